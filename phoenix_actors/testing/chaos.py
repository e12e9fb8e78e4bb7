"""Chaos runs: crash every kind of actor and break the network while clients push.

:func:`run_chaos` is the one engine behind ``tests/integration/test_chaos.py``
and ``scripts/soak.py``. One run:

1. starts a :class:`~phoenix_actors.server.LoopbackServer` (127.0.0.1, a
   free port) and ``clients`` clients (user ids ``bot0``, ``bot1``, ...;
   short schedules: :data:`CHAOS_OPTIONS`), each joined to 2 or 3 of the
   demo ``room:chaos-*`` topics;
2. for ``seconds``, injects faults one at a time at random intervals, drawn
   from a deck of every kind (:data:`FAULT_KINDS`) shuffled anew each round,
   so every kind comes up once in every ``len(FAULT_KINDS)`` faults:

   =====================  =====================================================
   kind                   what is done
   =====================  =====================================================
   ``crash:socket``       ``crash(client, "socket")`` on a random client
   ``crash:scheduler``    ``crash(client, "scheduler")``
   ``crash:presence``     ``crash(client, "presence")``
   ``crash:channel``      ``crash(client, "channel:<topic>")``, a random topic
   ``abort``              ``faults.abort_all()``: every TCP stream dropped
   ``close``              ``faults.close_all(1001, "going away")``
   ``restart``            ``server.restart()`` on the same port
   ``silent_heartbeats``  ``faults.stop_heartbeats()`` for at least 1.5
                          heartbeat intervals and until every client closed
                          its connection, then ``faults.reset()``
   ``half_open``          the same with ``faults.drop_replies(None)`` too: the
                          server keeps the TCP link and answers nothing
   =====================  =====================================================

   meanwhile every client has a teller thread (``client.tell(Push(...))``)
   and ``askers`` asker threads (``client.ask(Push(...))``) pushing ``ping``
   (one in ten ``error_reply``) with every retry strategy (``Drop()``,
   ``Every(0.3)``, ``Backoff([0.1, 0.3], max=0.5)``), each push with a unique
   ``ref="c<i>-<n>"`` carried in its payload, and a checker thread measures
   each fault's recovery;
3. settles: faults off, pushing stops; waits (``settle_timeout``) until every
   push has its terminal outcome, every channel is joined, every fault has
   recovered and every client's presence list equals the server's;
4. stops the clients and the server and measures threads, fds and RSS again.

Bookkeeping is an event callback per client (it runs on the client's event
thread). A push's terminal outcome is a :class:`~phoenix_actors.PushOk`, a
:class:`~phoenix_actors.PushError` or a :class:`~phoenix_actors.PushTimeout`
whose ``retry_in`` is None. A push with no terminal outcome is *lost*; one
with any outcome after its terminal one is *duplicated*. An asked push's
answer must equal its first outcome (``Push``'s ask returns the first).

A fault has *recovered* when every client reports every topic joined
(``GetJoinedChannels``) after every channel the fault disrupts has a
``JoinOk`` newer than the fault (for the timed kinds: newer than the
client's last ``SocketClosed`` during the fault). Its recovery time runs
from the injection. Faults overlap in their effects, so a fault's recovery
includes whatever the next ones broke before it was over.

Randomness comes from :class:`random.Random` seeded with ``seed`` (one per
thread, seeded ``f"{seed}:<thread>"``): the seed replays the sequence of
faults and pushes; their timing against the network cannot be replayed.
"""

from __future__ import annotations

import itertools
import os
import random
import resource
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Final

import msgspec

from phoenix_actors.client import Client
from phoenix_actors.clock import MonotonicClock
from phoenix_actors.messages import (
    Backoff,
    ClientFailed,
    ConnectOptions,
    Drop,
    Event,
    EventsDropped,
    Every,
    GetJoinedChannels,
    GetPresenceState,
    InternalError,
    Join,
    JoinOk,
    Push,
    PushError,
    PushOk,
    PushTimeout,
    RetryStrategy,
    SocketClosed,
)
from phoenix_actors.server.loopback import LoopbackServer
from phoenix_actors.testing.crash import crash

__all__ = [
    "CHAOS_OPTIONS",
    "FAULT_KINDS",
    "TOPICS",
    "ChaosReport",
    "FaultRecord",
    "Percentiles",
    "Resources",
    "run_chaos",
]

FAULT_KINDS: Final = (
    "crash:socket",
    "crash:scheduler",
    "crash:presence",
    "crash:channel",
    "abort",
    "close",
    "restart",
    "silent_heartbeats",
    "half_open",
)
"""Every kind of fault a run injects (see the module docstring)."""

TOPICS: Final = ("room:chaos-a", "room:chaos-b", "room:chaos-c")
"""The demo topics the clients join (each client 2 or 3 of them)."""

HEARTBEAT: Final = 1.0
"""The clients' heartbeat interval, in seconds."""

CHAOS_OPTIONS: Final = ConnectOptions(
    timeout=1.0,
    heartbeat_interval=HEARTBEAT,
    reconnect_after=[0.05, 0.1, 0.2],
    rejoin_after=[0.05, 0.1, 0.2],
)
"""The clients' options: short timeouts, heartbeats and schedules."""

RESTART_LIMIT: Final = (100_000, 1.0)
"""Far past anything a run injects: the supervisor never gives up."""

STRATEGIES: Final[tuple[tuple[str, RetryStrategy], ...]] = (
    ("drop", Drop()),
    ("every", Every(0.3)),
    ("backoff", Backoff([0.1, 0.3], max=0.5)),
)

ASK_TIMEOUT: Final = 5.0
"""Seconds a query of the engine (joined channels, presence) may take."""
NOTICE_TIMEOUT: Final = 5 * HEARTBEAT
"""Seconds after a timed fault starts by which every client must have closed its link."""
PROBLEMS_MAX: Final = 200
"""Problems kept in a report (the rest are counted)."""

_clock = MonotonicClock()


# --- the report ------------------------------------------------------------------------


class Percentiles(msgspec.Struct, frozen=True):
    """Nearest-rank percentiles of a list of durations, in milliseconds."""

    count: int
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None

    @classmethod
    def of(cls, values_ms: list[float]) -> Percentiles:
        """Return the percentiles of ``values_ms`` (all None when it is empty)."""
        if not values_ms:
            return cls(0)
        ordered = sorted(values_ms)

        def rank(p: float) -> float:
            index = max(0, min(len(ordered) - 1, int(-(-p * len(ordered) // 1)) - 1))
            return round(ordered[index], 1)

        return cls(len(ordered), rank(0.50), rank(0.99), round(ordered[-1], 1))


class Resources(msgspec.Struct, frozen=True):
    """What the process holds at one moment."""

    threads: int
    """Live threads."""
    fds: int
    """Open file descriptors (``/proc/self/fd``; -1 where there is none)."""
    rss_kib: int
    """Resident memory now, in KiB (``/proc/self/statm``; -1 where there is none)."""
    max_rss_kib: int
    """Peak resident memory so far, in KiB (``ru_maxrss``)."""

    @classmethod
    def now(cls) -> Resources:
        """Measure the process now."""
        try:
            fds = sum(1 for _ in Path("/proc/self/fd").iterdir())
        except OSError:
            fds = -1
        try:
            pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
            rss = pages * os.sysconf("SC_PAGE_SIZE") // 1024
        except (OSError, ValueError, IndexError):
            rss = -1
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return cls(threading.active_count(), fds, rss, peak)


class FaultRecord(msgspec.Struct, frozen=True):
    """One injected fault."""

    kind: str
    target: str
    """``bot<i>`` (a client), ``bot<i>/<topic>`` (a channel) or ``all`` (the server)."""
    at_ms: float
    """When it was injected, from the start of the chaos phase."""
    recovery_ms: float | None = None
    """Injection to recovery; None if it never recovered."""


class ChaosReport(msgspec.Struct, frozen=True, kw_only=True):
    """The figures of one :func:`run_chaos` run, and what went wrong in it."""

    seed: int
    seconds: float
    """Wall time of the chaos phase (faults and pushes)."""
    settle_seconds: float
    """Wall time from the end of the chaos phase until everything settled (or gave up)."""
    clients: int
    topics: dict[str, list[str]]
    """The topics of each client, by user id."""
    faults: dict[str, int]
    """Faults injected, by kind (every kind of :data:`FAULT_KINDS` is a key)."""
    pushes: int
    told: int
    asked: int
    outcomes: dict[str, int]
    """Terminal outcomes: ``ok``, ``error:<status>``, ``timeout``."""
    retried_timeouts: int
    """PushTimeouts followed by a retry (not terminal)."""
    lost: int
    """Pushes with no terminal outcome."""
    duplicated: int
    """Pushes with an outcome after their terminal one."""
    ask_mismatches: int
    """Asked pushes whose answer was not their first outcome (or an exception)."""
    wrong_replies: int
    """PushOks whose response is not the push's own payload."""
    internal_errors: int
    """``InternalError`` events (one per restart, and any real ones)."""
    joined: bool
    """Every channel of every client was joined at the end."""
    presence_converged: bool
    """Every client's presence list of every topic equalled the server's at the end."""
    recovery: Percentiles
    recovery_by_kind: dict[str, Percentiles]
    unrecovered: int
    """Faults that never recovered."""
    before: Resources
    after: Resources
    """Measured after every client and the server stopped."""
    leaked_threads: list[str]
    """Threads started during the run and still alive after it."""
    fd_slack: int
    """Extra fds tolerated after the run."""
    timeline: list[FaultRecord]
    problems: list[str]
    """Anything else that went wrong (at most :data:`PROBLEMS_MAX`)."""

    @property
    def fds_leaked(self) -> int:
        """File descriptors open after the run beyond the start and the slack."""
        if self.before.fds < 0 or self.after.fds < 0:
            return 0
        return max(0, self.after.fds - self.before.fds - self.fd_slack)

    def failures(self, *, every_kind: bool = True) -> list[str]:
        """Every check the run failed, in words (empty: it passed).

        Args:
            every_kind: also require every kind of fault to have been injected
                (a run of a few seconds may not get through the deck).
        """
        checks = [
            (self.lost == 0, f"{self.lost} pushes lost"),
            (self.duplicated == 0, f"{self.duplicated} pushes with a duplicated outcome"),
            (self.ask_mismatches == 0, f"{self.ask_mismatches} asks answered wrongly"),
            (self.wrong_replies == 0, f"{self.wrong_replies} pushes got another's reply"),
            (self.joined, "not every channel was joined at the end"),
            (self.presence_converged, "presence did not converge with the server's"),
            (self.unrecovered == 0, f"{self.unrecovered} faults never recovered"),
            (not self.leaked_threads, f"threads leaked: {self.leaked_threads}"),
            (self.fds_leaked == 0, f"{self.fds_leaked} file descriptors leaked"),
            (not self.problems, f"{len(self.problems)} problems: {self.problems[:5]}"),
        ]
        missing = [kind for kind in FAULT_KINDS if not self.faults.get(kind)]
        if every_kind:
            checks.append((not missing, f"fault kinds never injected: {missing}"))
        return [message for passed, message in checks if not passed]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.failures()

    def summary(self, *, every_kind: bool = True) -> str:
        """The report as a few lines of text, ending with the verdict (see :meth:`failures`)."""

        def pct(p: Percentiles) -> str:
            return f"n={p.count} p50={p.p50_ms} p99={p.p99_ms} max={p.max_ms} ms"

        faults = ", ".join(f"{k}={v}" for k, v in self.faults.items())
        outcomes = ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))
        by_kind = "\n".join(f"    {k}: {pct(p)}" for k, p in self.recovery_by_kind.items())
        b, a = self.before, self.after
        lines = [
            (
                f"seed={self.seed} clients={self.clients} chaos={self.seconds:.1f}s "
                f"settle={self.settle_seconds:.1f}s"
            ),
            f"faults ({sum(self.faults.values())}): {faults}",
            (
                f"pushes: {self.pushes} (told {self.told}, asked {self.asked}); {outcomes}; "
                f"retried timeouts={self.retried_timeouts}"
            ),
            (
                f"lost={self.lost} duplicated={self.duplicated} "
                f"ask_mismatches={self.ask_mismatches} wrong_replies={self.wrong_replies} "
                f"internal_errors={self.internal_errors}"
            ),
            (
                f"joined={self.joined} presence_converged={self.presence_converged} "
                f"unrecovered={self.unrecovered}"
            ),
            f"recovery: {pct(self.recovery)}",
            by_kind,
            (
                f"threads {b.threads} -> {a.threads}, fds {b.fds} -> {a.fds}, "
                f"rss {b.rss_kib} -> {a.rss_kib} KiB, "
                f"max rss {b.max_rss_kib} -> {a.max_rss_kib} KiB"
            ),
        ]
        if self.leaked_threads:
            lines.append(f"leaked threads: {self.leaked_threads}")
        lines.extend(f"problem: {p}" for p in self.problems)
        failures = self.failures(every_kind=every_kind)
        lines.append("OK" if not failures else "FAILED: " + "; ".join(failures))
        return "\n".join(lines)


# --- bookkeeping -----------------------------------------------------------------------


@dataclass(slots=True)
class _Sent:
    client: int
    strategy: str
    asked: bool


@dataclass
class _Fault:
    record: int
    """Index in the timeline."""
    kind: str
    injected: float
    affected: set[tuple[int, str]]
    since: dict[int, float] | None
    """Per client: JoinOks must be newer than this; None until the fault is over."""


def _outcome_key(event: Event) -> str | None:
    """The terminal outcome's name, or None when ``event`` is not terminal."""
    match event:
        case PushOk():
            return "ok"
        case PushError(status=status):
            return f"error:{status}"
        case PushTimeout(retry_in=None):
            return "timeout"
    return None


class _Ledger:
    """Everything the run observed; one condition guards it and signals changes."""

    def __init__(self, max_pushes: int) -> None:
        self.cond = threading.Condition()
        self.version = 0
        self.wakes = 0
        """Bumped on every JoinOk and every fault the checker may resolve: wakes it."""
        self.max_pushes = max_pushes
        self.counters: dict[int, Iterator[int]] = {}
        self.sent: dict[str, _Sent] = {}
        self.first: dict[str, Event] = {}
        self.done: dict[str, Event] = {}
        self.extra: dict[str, list[str]] = {}
        self.answers: dict[str, object] = {}
        self.retried = 0
        self.wrong_replies = 0
        self.internal_errors = 0
        self.last_join_ok: dict[tuple[int, str], float] = {}
        self.last_closed: dict[int, float] = {}
        self.problems: list[str] = []
        self.problem_count = 0
        self.faults: list[_Fault] = []
        self.timeline: list[FaultRecord] = []
        self.started = _clock.now()

    def woken_since(self, wakes: int) -> bool:
        """Whether the checker has news since ``wakes`` (call with the lock held)."""
        return self.wakes != wakes

    def problem(self, text: str) -> None:
        with self.cond:
            self.problem_count += 1
            if len(self.problems) < PROBLEMS_MAX:
                at = _clock.now() - self.started
                self.problems.append(f"[{at:.3f}s] {text}")

    def next_ref(self, client: int) -> str | None:
        """A fresh push ref of ``client``, or None once its budget is spent."""
        with self.cond:
            n = next(self.counters.setdefault(client, itertools.count()))
        return None if n >= self.max_pushes else f"c{client}-{n}"

    def register(self, ref: str, sent: _Sent) -> None:
        with self.cond:
            self.sent[ref] = sent

    def unregister(self, ref: str) -> None:
        with self.cond:
            self.sent.pop(ref, None)

    def answer(self, ref: str, answer: object) -> None:
        with self.cond:
            self.answers[ref] = answer
            self.version += 1
            self.cond.notify_all()

    def pending(self) -> list[str]:
        with self.cond:
            return [ref for ref in self.sent if ref not in self.done]

    def observe(self, client: int, event: Event) -> None:
        """Record one event of ``client`` (called on its event thread)."""
        now = _clock.now()
        trouble: str | None = None
        with self.cond:
            match event:
                case PushOk() | PushError() | PushTimeout():
                    trouble = self._outcome(event)
                case JoinOk(topic=topic):
                    self.last_join_ok[client, topic] = now
                    self.wakes += 1
                case SocketClosed():
                    self.last_closed[client] = now
                case InternalError():
                    self.internal_errors += 1
                case ClientFailed(reason=reason):
                    trouble = f"bot{client}: ClientFailed {reason!r}"
                case EventsDropped(count=count):
                    trouble = f"bot{client}: {count} events dropped (the bookkeeping is wrong)"
            self.version += 1
            self.cond.notify_all()
        if trouble is not None:
            self.problem(trouble)

    def _outcome(self, event: PushOk | PushError | PushTimeout) -> str | None:
        ref = event.push.ref
        if ref is None or ref not in self.sent:
            return f"an outcome for a push never made: {event!r}"
        self.first.setdefault(ref, event)
        key = _outcome_key(event)
        if ref in self.done:
            self.extra.setdefault(ref, []).append(key or f"retry:{type(event).__name__}")
            return None
        if key is None:
            self.retried += 1
            return None
        self.done[ref] = event
        if isinstance(event, PushOk) and event.response != event.push.payload:
            self.wrong_replies += 1
            return f"{ref}: PushOk with another push's response {event.response!r}"
        return None

    def wait(self, predicate: Callable[[], bool], deadline: float, *, poll: float = 0.05) -> bool:
        """Wait until ``predicate()`` (run without the lock); re-check on every change.

        Returns:
            Whether it became true before ``deadline``.
        """
        while True:
            with self.cond:
                seen = self.version
            if predicate():
                return True
            remaining = deadline - _clock.now()
            if remaining <= 0:
                return False
            with self.cond:
                if self.version == seen:
                    self.cond.wait(min(remaining, poll))


@dataclass
class _Bot:
    index: int
    user: str
    topics: list[str]
    client: Client
    unsubscribe: Callable[[], None] = field(repr=False)


# --- the run ---------------------------------------------------------------------------


class _Run:
    def __init__(
        self,
        seconds: float,
        *,
        clients: int,
        seed: int,
        askers: int,
        max_faults: int | None,
        max_pushes: int,
        fault_interval: tuple[float, float],
        push_interval: tuple[float, float],
        progress: Callable[[str], None] | None,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        self.heartbeat = heartbeat
        self.options = msgspec.structs.replace(CHAOS_OPTIONS, heartbeat_interval=heartbeat)
        self.notice_timeout = NOTICE_TIMEOUT / HEARTBEAT * heartbeat
        self.seconds = seconds
        self.n_clients = clients
        self.seed = seed
        self.askers = askers
        self.max_faults = max_faults
        self.fault_interval = fault_interval
        self.push_interval = push_interval
        self.progress = progress
        self.ledger = _Ledger(max_pushes)
        self.server = LoopbackServer()
        self.bots: list[_Bot] = []
        self.stop_chaos = threading.Event()
        """Set at the end of the chaos phase: faults and pushes stop."""
        self.stop_checker = threading.Event()
        self.never = threading.Event()
        """Never set: waiting on it is holding a fault for a while."""
        self.fault_counts: Counter[str] = Counter()
        self.threads: list[threading.Thread] = []
        self.chaos_started = 0.0

    def rng(self, name: str) -> random.Random:
        return random.Random(f"{self.seed}:{name}")  # noqa: S311 - chaos, not cryptography

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)

    # --- setup -----------------------------------------------------------------------

    def start(self) -> None:
        self.server.start()
        pick = self.rng("topics")
        for i in range(self.n_clients):
            topics = sorted(pick.sample(TOPICS, pick.choice((2, 3))))
            client = Client(
                self.server.url,
                params={"user_id": f"bot{i}"},
                options=self.options,
                restart_limit=RESTART_LIMIT,
            )

            def on_event(event: Event, i: int = i) -> None:
                self.ledger.observe(i, event)

            unsubscribe = client.subscribe(on_event)
            self.bots.append(_Bot(i, f"bot{i}", topics, client, unsubscribe))
            for topic in topics:
                reply = client.ask(Join(topic), timeout=ASK_TIMEOUT)
                if not isinstance(reply, JoinOk):
                    self.ledger.problem(f"bot{i}: the first join of {topic} answered {reply!r}")

    def spawn(self, name: str, target: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                target()
            except Exception as exc:  # noqa: BLE001 - recorded: the report shows it
                self.ledger.problem(f"thread {name} failed: {exc!r}")

        thread = threading.Thread(target=guarded, name=f"chaos-{name}", daemon=True)
        self.threads.append(thread)
        thread.start()

    # --- faults ----------------------------------------------------------------------

    def fault_loop(self) -> None:
        rng = self.rng("faults")
        end = self.chaos_started + self.seconds
        deck: list[str] = []
        n = 0
        while self.max_faults is None or n < self.max_faults:
            if self.stop_chaos.wait(rng.uniform(*self.fault_interval)) or _clock.now() >= end:
                return
            if not deck:
                deck = list(FAULT_KINDS)
                rng.shuffle(deck)
            self.inject(deck.pop(), rng)
            n += 1

    def inject(self, kind: str, rng: random.Random) -> None:
        ledger, server, faults = self.ledger, self.server, self.server.faults
        every = {(b.index, t) for b in self.bots for t in b.topics}
        bot = rng.choice(self.bots)
        t0 = _clock.now()
        target = "all"
        affected: set[tuple[int, str]] = every
        try:
            if kind.startswith("crash:"):
                actor = kind.removeprefix("crash:")
                target = bot.user
                affected = set()
                if actor == "channel":
                    topic = rng.choice(bot.topics)
                    actor, target = f"channel:{topic}", f"{bot.user}/{topic}"
                    affected = {(bot.index, topic)}
                elif actor == "socket":
                    affected = {(bot.index, t) for t in bot.topics}
                crash(bot.client, actor)
            elif kind == "abort":
                faults.abort_all()
            elif kind == "close":
                faults.close_all(1001, "going away")
            elif kind == "restart":
                server.restart()
        except Exception as exc:  # noqa: BLE001 - recorded: the report shows it
            ledger.problem(f"{kind} on {target} could not be injected: {exc!r}")
            return
        self.fault_counts[kind] += 1
        with ledger.cond:
            record = len(ledger.timeline)
            ledger.timeline.append(FaultRecord(kind, target, round((t0 - ledger.started) * 1e3, 1)))
            timed = kind in ("silent_heartbeats", "half_open")
            since = None if timed else dict.fromkeys(range(len(self.bots)), t0)
            ledger.faults.append(_Fault(record, kind, t0, affected, since))
            ledger.wakes += 1
            ledger.cond.notify_all()
        if timed:
            self.hold(kind, t0, record)

    def hold(self, kind: str, t0: float, record: int) -> None:
        """Keep a timed fault on for 1.5 heartbeats and until every client closed its link."""
        ledger, faults = self.ledger, self.server.faults
        if kind == "half_open":
            faults.drop_replies(None)
        faults.stop_heartbeats()
        try:
            self.never.wait(1.5 * self.heartbeat)

            def noticed() -> bool:
                return all(ledger.last_closed.get(b.index, -1.0) > t0 for b in self.bots)

            with ledger.cond:
                if not ledger.cond.wait_for(noticed, timeout=self.notice_timeout):
                    late = [b.user for b in self.bots if ledger.last_closed.get(b.index, -1) <= t0]
                    ledger.problem(f"{kind}: {late} kept their link {self.notice_timeout} s")
        finally:
            faults.reset()
        with ledger.cond:
            since = {b.index: max(t0, ledger.last_closed.get(b.index, t0)) for b in self.bots}
            for fault in ledger.faults:
                if fault.record == record:
                    fault.since = since
            ledger.wakes += 1
            ledger.cond.notify_all()

    # --- recovery --------------------------------------------------------------------

    def all_joined(self) -> bool:
        for bot in self.bots:
            joined = bot.client.ask(GetJoinedChannels(), timeout=ASK_TIMEOUT)
            if sorted(joined) != bot.topics:
                return False
        return True

    def checker_loop(self) -> None:
        """Resolve faults as they recover: woken by every JoinOk and fault (or 4 times a second)."""
        ledger = self.ledger
        while not self.stop_checker.is_set():
            with ledger.cond:
                seen = ledger.wakes
                ledger.cond.wait_for(partial(ledger.woken_since, seen), timeout=0.25)
                ready = [
                    f
                    for f in ledger.faults
                    if f.since is not None
                    and all(
                        ledger.last_join_ok.get(key, -1.0) > f.since[key[0]] for key in f.affected
                    )
                ]
            if not ready:
                continue
            try:
                joined = self.all_joined()
            except Exception as exc:  # noqa: BLE001 - recorded: the report shows it
                ledger.problem(f"checker: GetJoinedChannels failed: {exc!r}")
                continue
            if not joined:
                continue
            now = _clock.now()
            with ledger.cond:
                for fault in ready:
                    old = ledger.timeline[fault.record]
                    recovery = round((now - fault.injected) * 1e3, 1)
                    ledger.timeline[fault.record] = msgspec.structs.replace(
                        old, recovery_ms=recovery
                    )
                    ledger.faults.remove(fault)
                ledger.version += 1
                ledger.cond.notify_all()

    # --- pushes ----------------------------------------------------------------------

    def make_push(self, bot: _Bot, rng: random.Random, *, asked: bool) -> Push | None:
        ref = self.ledger.next_ref(bot.index)
        if ref is None:
            return None
        name, strategy = rng.choice(STRATEGIES)
        event = "error_reply" if rng.random() < 0.1 else "ping"
        push = Push(rng.choice(bot.topics), event, {"ref": ref}, retry=strategy, ref=ref)
        self.ledger.register(ref, _Sent(bot.index, name, asked))
        return push

    def teller(self, bot: _Bot) -> None:
        rng = self.rng(f"tell{bot.index}")
        while not self.stop_chaos.is_set():
            push = self.make_push(bot, rng, asked=False)
            if push is None:
                return
            try:
                bot.client.tell(push)
            except Exception as exc:  # noqa: BLE001 - recorded: the report shows it
                assert push.ref is not None
                self.ledger.unregister(push.ref)
                self.ledger.problem(f"{bot.user}: tell {push.ref} raised {exc!r}")
            self.stop_chaos.wait(rng.uniform(*self.push_interval))

    def asker(self, bot: _Bot, k: int) -> None:
        rng = self.rng(f"ask{bot.index}.{k}")
        while not self.stop_chaos.is_set():
            push = self.make_push(bot, rng, asked=True)
            if push is None:
                return
            assert push.ref is not None
            answer: object
            try:
                answer = bot.client.ask(push)
            except Exception as exc:  # noqa: BLE001 - compared with the first outcome later
                answer = exc
            self.ledger.answer(push.ref, answer)
            self.stop_chaos.wait(rng.uniform(*self.push_interval) * 2)

    # --- settling --------------------------------------------------------------------

    def presence_views(self) -> list[str]:
        """Every difference between a client's presence and the server's (empty: none)."""
        diffs = []
        for topic in TOPICS:
            expected = {b.user for b in self.bots if topic in b.topics}
            server = set(self.server.presence_list(topic))
            if server != expected:
                diffs.append(f"server {topic}: {sorted(server)} != {sorted(expected)}")
            for bot in self.bots:
                if topic not in bot.topics:
                    continue
                state = bot.client.ask(GetPresenceState(topic), timeout=ASK_TIMEOUT)
                seen = {p.id for p in state}
                if seen != server:
                    diffs.append(f"{bot.user} {topic}: {sorted(seen)} != server {sorted(server)}")
        return diffs

    def settle(self, timeout: float) -> tuple[bool, bool]:
        """Wait for every outcome, every join and presence; return (joined, converged)."""
        ledger = self.ledger
        deadline = _clock.now() + timeout
        if not ledger.wait(lambda: not ledger.pending(), deadline):
            ledger.problem(f"pushes without a terminal outcome at the end: {ledger.pending()[:9]}")
        joined = ledger.wait(self.all_joined, deadline)
        if not joined:
            views = {b.user: b.client.ask(GetJoinedChannels(), timeout=5) for b in self.bots}
            ledger.problem(f"channels not joined after settling: {views}")

        def recovered() -> bool:
            with ledger.cond:
                return not ledger.faults

        ledger.wait(recovered, deadline)
        converged = ledger.wait(lambda: not self.presence_views(), deadline)
        if not converged:
            ledger.problem(f"presence after settling: {self.presence_views()}")
        return joined, converged

    # --- the whole run ---------------------------------------------------------------

    def run(self, settle_timeout: float, fd_slack: int) -> ChaosReport:
        baseline = set(threading.enumerate())
        before = Resources.now()
        joined = converged = False
        chaos_seconds = settle_seconds = 0.0
        try:
            self.start()
            self.say(f"seed {self.seed}: {len(self.bots)} clients on {self.server.url}")
            self.chaos_started = _clock.now()
            self.spawn("checker", self.checker_loop)
            self.spawn("faults", self.fault_loop)
            for bot in self.bots:
                self.spawn(f"tell{bot.index}", partial(self.teller, bot))
                for k in range(self.askers):
                    self.spawn(f"ask{bot.index}.{k}", partial(self.asker, bot, k))
            self.stop_chaos.wait(self.seconds)
            self.stop_chaos.set()
            self.join_threads([t for t in self.threads if t.name != "chaos-checker"], 15.0)
            settle_started = _clock.now()
            chaos_seconds = settle_started - self.chaos_started
            self.server.faults.reset()
            self.server.start()  # no-op unless a restart failed half-way
            self.say(f"chaos over after {chaos_seconds:.1f} s; settling")
            joined, converged = self.settle(settle_timeout)
            settle_seconds = _clock.now() - settle_started
        finally:
            self.stop_chaos.set()
            self.stop_checker.set()
            self.join_threads(self.threads, 15.0)
            for bot in self.bots:
                bot.unsubscribe()
                bot.client.stop()
            self.server.stop()
        leaked = self.join_threads([t for t in threading.enumerate() if t not in baseline], 5.0)
        after = Resources.now()
        return self.report(
            before=before,
            after=after,
            leaked=leaked,
            joined=joined,
            converged=converged,
            chaos_seconds=chaos_seconds,
            settle_seconds=settle_seconds,
            fd_slack=fd_slack,
        )

    def join_threads(self, threads: list[threading.Thread], timeout: float) -> list[str]:
        """Join ``threads`` within ``timeout`` in all; return the names still alive."""
        deadline = _clock.now() + timeout
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - _clock.now()))
        alive = [t.name for t in threads if t.is_alive()]
        for name in alive:
            if name.startswith("chaos-"):
                self.ledger.problem(f"thread {name} did not stop")
        return alive

    def report(
        self,
        *,
        before: Resources,
        after: Resources,
        leaked: list[str],
        joined: bool,
        converged: bool,
        chaos_seconds: float,
        settle_seconds: float,
        fd_slack: int,
    ) -> ChaosReport:
        ledger = self.ledger
        with ledger.cond:
            outcomes = Counter(_outcome_key(e) or "?" for e in ledger.done.values())
            mismatches = 0
            for ref, answer in ledger.answers.items():
                first = ledger.first.get(ref)
                if answer != first:
                    mismatches += 1
                    if mismatches <= 10:
                        ledger.problems.append(f"{ref}: ask answered {answer!r}, first {first!r}")
            for ref, extra in list(ledger.extra.items())[:10]:
                ledger.problems.append(f"{ref}: {ledger.done[ref]!r} then {extra}")
            lost = [ref for ref in ledger.sent if ref not in ledger.done]
            for ref in lost[:10]:
                ledger.problems.append(f"{ref} lost: {ledger.sent[ref]}")
            timeline = list(ledger.timeline)
            by_kind: dict[str, list[float]] = {kind: [] for kind in FAULT_KINDS}
            for fault in timeline:
                if fault.recovery_ms is not None:
                    by_kind[fault.kind].append(fault.recovery_ms)
            if ledger.problem_count > len(ledger.problems):
                ledger.problems.append(f"... {ledger.problem_count - PROBLEMS_MAX} more problems")
            asked = sum(1 for s in ledger.sent.values() if s.asked)
            return ChaosReport(
                seed=self.seed,
                seconds=round(chaos_seconds, 3),
                settle_seconds=round(settle_seconds, 3),
                clients=len(self.bots),
                topics={b.user: b.topics for b in self.bots},
                faults={kind: self.fault_counts[kind] for kind in FAULT_KINDS},
                pushes=len(ledger.sent),
                told=len(ledger.sent) - asked,
                asked=asked,
                outcomes=dict(sorted(outcomes.items())),
                retried_timeouts=ledger.retried,
                lost=len(lost),
                duplicated=len(ledger.extra),
                ask_mismatches=mismatches,
                wrong_replies=ledger.wrong_replies,
                internal_errors=ledger.internal_errors,
                joined=joined,
                presence_converged=converged,
                recovery=Percentiles.of([v for vs in by_kind.values() for v in vs]),
                recovery_by_kind={k: Percentiles.of(v) for k, v in by_kind.items()},
                unrecovered=sum(1 for f in timeline if f.recovery_ms is None),
                before=before,
                after=after,
                leaked_threads=leaked,
                fd_slack=fd_slack,
                timeline=timeline,
                problems=list(ledger.problems),
            )


def run_chaos(
    seconds: float,
    *,
    clients: int,
    seed: int,
    askers: int = 2,
    max_faults: int | None = None,
    max_pushes: int = 100_000,
    fault_interval: tuple[float, float] = (0.05, 0.3),
    push_interval: tuple[float, float] = (0.01, 0.05),
    settle_timeout: float = 10.0,
    fd_slack: int = 3,
    progress: Callable[[str], None] | None = None,
    heartbeat: float = HEARTBEAT,
) -> ChaosReport:
    """Run clients against a loopback server for ``seconds`` of faults; report what happened.

    Everything the run starts is stopped before it returns (also when it
    raises). It runs ``seconds`` of chaos, then at most ``settle_timeout``
    of settling, plus the end of a timed fault (at most about
    :data:`NOTICE_TIMEOUT`) and the teardown.

    Args:
        seconds: length of the chaos phase (faults and pushes).
        clients: how many clients (user ids ``bot0``...).
        seed: seeds every random choice; print it to replay a run.
        askers: asker threads per client (each with one ask in flight).
        max_faults: stop injecting after this many faults (None: no bound but time).
        max_pushes: pushes per client at most.
        fault_interval: seconds between two faults, drawn uniformly in this range.
        push_interval: seconds between two pushes of a thread, drawn likewise.
        settle_timeout: seconds the end may take to settle.
        fd_slack: file descriptors the run may leave open beyond the start.
        progress: called with a line of text at each phase (e.g. ``print``).
        heartbeat: the clients' heartbeat interval (silent-link faults last 1.5 of them).

    Returns:
        The run's :class:`ChaosReport`; ``report.ok`` says whether every check passed.
    """
    run = _Run(
        seconds,
        clients=clients,
        seed=seed,
        askers=askers,
        max_faults=max_faults,
        max_pushes=max_pushes,
        fault_interval=fault_interval,
        push_interval=push_interval,
        progress=progress,
        heartbeat=heartbeat,
    )
    return run.run(settle_timeout, fd_slack)
