"""Chaos: every actor crashed and the network broken, at random, while three clients push.

One engine (:func:`phoenix_actors.testing.chaos.run_chaos`, also behind
``scripts/soak.py``) runs a loopback server and the clients, injects every
kind of fault at random intervals, pushes with every retry strategy (told and
asked), then settles and checks that nothing was lost or duplicated, that
every channel rejoined, that presence agrees with the server and that
nothing leaked. The seed is fixed and printed in every failure message:
``run_chaos(..., seed=SEED)`` replays the same sequence of faults and pushes.

Select these with ``pytest -k chaos``.
"""

from __future__ import annotations

import logging

import pytest

from phoenix_actors import MonotonicClock
from phoenix_actors.testing.chaos import FAULT_KINDS, ChaosReport, run_chaos

log = logging.getLogger(__name__)
clock = MonotonicClock()

SEED = 20240611
QUICK_SEED = 7


def check(report: ChaosReport, *, every_kind: bool = True) -> None:
    """Assert every invariant of a chaos run, each with the whole report as its message."""
    summary = report.summary(every_kind=every_kind)
    log.info("chaos run:\n%s", summary)
    assert report.pushes > 0, summary
    assert report.lost == 0, summary
    assert report.duplicated == 0, summary
    assert report.ask_mismatches == 0, summary
    assert report.wrong_replies == 0, summary
    assert report.joined, summary
    assert report.presence_converged, summary
    assert report.unrecovered == 0, summary
    assert not report.problems, summary
    assert not report.leaked_threads, summary
    assert report.after.threads == report.before.threads, summary
    assert report.fds_leaked == 0, summary
    if every_kind:
        assert all(report.faults[kind] >= 1 for kind in FAULT_KINDS), summary
    assert report.failures(every_kind=every_kind) == [], summary


@pytest.mark.timeout(60)
def test_chaos_three_clients_every_fault_kind_nothing_lost_everything_restored() -> None:
    start = clock.now()
    report = run_chaos(30.0, clients=3, seed=SEED)
    took = clock.now() - start
    check(report)
    assert report.asked > 0, report.summary()
    assert report.told > 0, report.summary()
    assert report.outcomes.get("ok", 0) > 0, report.summary()
    assert took < 55.0, f"the chaos run took {took:.1f} s (seed {SEED})"


@pytest.mark.timeout(30)
def test_chaos_quick_run_with_another_seed() -> None:
    start = clock.now()
    report = run_chaos(5.0, clients=3, seed=QUICK_SEED)
    took = clock.now() - start
    check(report, every_kind=False)
    assert took < 25.0, f"the quick chaos run took {took:.1f} s (seed {QUICK_SEED})"
