"""Soak: a long chaos run of clients against the bundled loopback server, with a verdict.

Usage::

    .venv/bin/python scripts/soak.py [--seconds 600] [--clients 3] [--seed N]
        [--max-faults N] [--settle 10] [--verbose]

Runs :func:`phoenix_actors.testing.chaos.run_chaos` (the engine of
``tests/integration/test_chaos.py``): crash injection of every actor kind and
network faults (abrupt drops, clean closes, server restarts, silent
heartbeats, half-open links) at random while every client pushes with every
retry strategy. Prints the faults injected by kind, the pushes by outcome,
lost and duplicated pushes (both must be 0), recovery p50 / p99 / max, and
threads, fds and RSS before and after. Exits 1 if anything was lost,
duplicated, not restored or leaked. Without ``--seed`` a seed is drawn and
printed: pass it back to replay the same sequence of faults and pushes.

The library's log records (one ERROR per injected crash) are counted and
summarised at the end; ``--verbose`` prints them as they come.
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import sys
from collections import Counter

from phoenix_actors.testing.chaos import FAULT_KINDS, run_chaos

_URN = re.compile(r"urn:uuid:[0-9a-f-]+")


class _Tally(logging.Handler):
    """Counts log records by logger, level and message template."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        text = _URN.sub("urn:…", str(record.msg))
        self.counts[record.name, record.levelname, text] += 1


def main(argv: list[str] | None = None) -> int:
    """Run the soak; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=600.0, help="chaos phase (600)")
    parser.add_argument("--clients", type=int, default=3, help="clients (3)")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: drawn, printed)")
    parser.add_argument("--max-faults", type=int, default=None, help="bound on faults (none)")
    parser.add_argument("--max-pushes", type=int, default=100_000, help="per client (100000)")
    parser.add_argument("--settle", type=float, default=10.0, help="settle deadline, s (10)")
    parser.add_argument("--verbose", action="store_true", help="print library log records")
    parser.add_argument(
        "--fault-interval",
        type=float,
        nargs=2,
        default=(0.05, 0.3),
        metavar=("MIN", "MAX"),
        help="seconds between two faults, drawn uniformly (0.05 0.3)",
    )
    parser.add_argument(
        "--heartbeat", type=float, default=1.0, help="clients' heartbeat interval, s (1.0)"
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.clients < 1:
        parser.error("--seconds must be > 0 and --clients >= 1")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)

    tally = _Tally()
    root = logging.getLogger()
    root.addHandler(tally)
    root.setLevel(logging.WARNING)
    if args.verbose:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")

    print(f"soak: {args.seconds:g} s, {args.clients} clients, seed {seed}", flush=True)
    report = run_chaos(
        args.seconds,
        clients=args.clients,
        seed=seed,
        max_faults=args.max_faults,
        max_pushes=args.max_pushes,
        settle_timeout=args.settle,
        fault_interval=(args.fault_interval[0], args.fault_interval[1]),
        heartbeat=args.heartbeat,
        progress=lambda line: print(line, flush=True),
    )
    # a deck of every kind takes some 8 s; shorter or bounded runs need not get through it
    enough = args.seconds >= 15 and (args.max_faults is None or args.max_faults >= len(FAULT_KINDS))
    print(report.summary(every_kind=enough))
    if tally.counts:
        print("log records:")
        for (name, level, msg), n in tally.counts.most_common(10):
            print(f"  {n:6d} {level} {name}: {msg}")
    failures = report.failures(every_kind=enough)
    if failures:
        print(f"FAILED (seed {seed}): " + "; ".join(failures))
        return 1
    print(f"passed (seed {seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
