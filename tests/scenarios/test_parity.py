"""phoenix.js and phoenix_actors play each scenario; their normalised events must agree.

Each test plays one scenario of :mod:`tests.scenarios.catalog` twice, each
time against a fresh bundled server: first with the official client
(node, ``tests/js/driver.mjs``), then with ours. The normalised events up
to the last awaited one are compared stream by stream (the socket's, each
topic's). A difference fails unless the scenario allows it with a pointer
to a section of ``docs/differences.md``.
"""

from __future__ import annotations

import pytest

from tests.node import NODE
from tests.scenarios.adapters import JsPlayer, PyPlayer
from tests.scenarios.catalog import SCENARIOS
from tests.scenarios.model import (
    Norm,
    Scenario,
    check,
    check_server_joins,
    doc_sections,
    in_order,
)

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def _params() -> list[object]:
    out: list[object] = []
    for s in SCENARIOS:
        marks = [pytest.mark.xfail(strict=True, reason=s.bug)] if s.bug else []
        out.append(pytest.param(s, id=s.name, marks=marks))
    return out


@pytest.mark.parametrize("scenario", _params())
def test_same_events_as_phoenix_js(scenario: Scenario) -> None:
    with JsPlayer(scenario) as js:
        js_events = js.play()
        js_joins = dict(js.joins)
    with PyPlayer(scenario) as py:
        py_events = py.play()
        py_joins = dict(py.joins)
    check(scenario, js_events, py_events)
    check_server_joins(scenario, "phoenix.js", js_joins)
    check_server_joins(scenario, "phoenix_actors", py_joins)


def test_scenario_names_are_unique_and_enough() -> None:
    names = [s.name for s in SCENARIOS]
    assert len(set(names)) == len(names)
    assert len(names) >= 12


def test_every_allowance_points_to_a_documented_section() -> None:
    sections = doc_sections()
    for scenario in SCENARIOS:
        for allow in scenario.allow:
            assert allow.section in sections, (scenario.name, allow.section, sorted(sections))


def test_a_scenario_where_nothing_happens_fails() -> None:
    scenario = SCENARIOS[0]
    with pytest.raises(AssertionError, match="expected"):
        check(scenario, [], [])


def test_a_difference_fails_and_an_unneeded_allowance_fails() -> None:
    plain = next(s for s in SCENARIOS if not s.allow and not s.bug)
    allowed = next(s for s in SCENARIOS if s.allow)
    events: list[Norm] = [("open",), ("join", "room:a", "ok", {}, "fresh")]
    assert in_order(events, plain.expect[:1]) is None
    with pytest.raises(AssertionError, match="sequences differ"):
        check(Scenario(name="x", steps=(), expect=()), events, [*events, ("close", 1000)])
    with pytest.raises(AssertionError, match="no longer needed"):
        check(Scenario(name="x", steps=(), expect=(), allow=allowed.allow), events, events)


def test_cross_stream_order_is_not_compared() -> None:
    js: list[Norm] = [("channel_error", "room:a", {}), ("close", 1000)]
    py: list[Norm] = [("close", 1000), ("channel_error", "room:a", {})]
    check(
        Scenario(name="x", steps=(), expect=(("close", 1000), ("channel_error", "room:a"))), js, py
    )
