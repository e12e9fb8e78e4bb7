"""The event dispatcher: one thread, one order, bounded backlogs, every overflow reported."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pykka
import pytest

from phoenix_actors.actors.dispatch import EventDispatcher
from phoenix_actors.errors import InvalidArgumentError, InvalidTypeError
from phoenix_actors.messages import Event, EventsDropped, InternalError, LeaveOk
from phoenix_actors.testing.recorder import EventRecorder

WAIT = 5.0


def ev(n: int) -> LeaveOk:
    return LeaveOk(topic=f"t{n}")


def topics(events: list[Event]) -> list[str]:
    return [e.topic for e in events if isinstance(e, LeaveOk)]


@pytest.fixture
def dispatcher() -> Iterator[EventDispatcher]:
    d = EventDispatcher("test")
    yield d
    assert d.stop(WAIT)


class Gate:
    """A callback that blocks on its first event until opened (a slow subscriber)."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()
        self.recorder = EventRecorder()

    def __call__(self, event: Event) -> None:
        self.entered.set()
        assert self.opened.wait(WAIT)
        self.recorder(event)


def test_every_subscriber_sees_every_event_in_emit_order(dispatcher: EventDispatcher) -> None:
    a, b = EventRecorder(), EventRecorder()
    dispatcher.subscribe(a)
    dispatcher.subscribe(b)
    for n in range(500):
        dispatcher.emit(ev(n))
    a.wait_for(LeaveOk, lambda e: e.topic == "t499", timeout=WAIT)
    b.wait_for(LeaveOk, lambda e: e.topic == "t499", timeout=WAIT)
    assert topics(a.events) == [f"t{n}" for n in range(500)]
    assert topics(b.events) == topics(a.events)


def test_callbacks_run_on_the_dispatcher_thread_not_the_emitter(
    dispatcher: EventDispatcher,
) -> None:
    threads: list[str] = []
    done = threading.Event()

    def callback(event: Event) -> None:
        threads.append(threading.current_thread().name)
        done.set()

    dispatcher.subscribe(callback)
    dispatcher.emit(ev(1))
    assert done.wait(WAIT)
    assert threads == ["test-events"]


def test_emit_never_waits_for_a_slow_subscriber(dispatcher: EventDispatcher) -> None:
    gate = Gate()
    dispatcher.subscribe(gate, backlog=10)
    dispatcher.emit(ev(0))
    assert gate.entered.wait(WAIT)
    for n in range(1, 1000):  # the subscriber is stuck: these only fill its backlog
        dispatcher.emit(ev(n))
    gate.opened.set()
    dropped = gate.recorder.wait_for(EventsDropped, timeout=WAIT)
    gate.recorder.wait_for(LeaveOk, lambda e: e.topic == "t999", timeout=WAIT)
    assert dropped.count == 989  # 999 waited for a backlog of 10
    assert dropped.policy == "drop_oldest"
    assert not dropped.failed
    # the oldest were dropped: the newest ten remain, after the report
    assert topics(gate.recorder.events) == ["t0", *[f"t{n}" for n in range(990, 1000)]]
    assert gate.recorder.events.index(dropped) == 1


def test_drop_newest_keeps_the_oldest_and_reports_the_count(dispatcher: EventDispatcher) -> None:
    gate = Gate()
    dispatcher.subscribe(gate, backlog=5, overflow="drop_newest")
    dispatcher.emit(ev(0))
    assert gate.entered.wait(WAIT)
    for n in range(1, 21):
        dispatcher.emit(ev(n))
    gate.opened.set()
    dropped = gate.recorder.wait_for(EventsDropped, timeout=WAIT)
    gate.recorder.wait_for(LeaveOk, lambda e: e.topic == "t5", timeout=WAIT)
    assert dropped.count == 15
    assert topics(gate.recorder.events) == ["t0", "t1", "t2", "t3", "t4", "t5"]
    dispatcher.emit(ev(99))  # room again: delivered, nothing more reported
    gate.recorder.wait_for(LeaveOk, lambda e: e.topic == "t99", timeout=WAIT)
    assert len(gate.recorder.of_type(EventsDropped)) == 1


def test_fail_policy_ends_the_subscription_with_a_final_report(
    dispatcher: EventDispatcher,
) -> None:
    gate = Gate()
    other = EventRecorder()
    dispatcher.subscribe(gate, backlog=3, overflow="fail")
    dispatcher.subscribe(other)
    dispatcher.emit(ev(0))
    assert gate.entered.wait(WAIT)
    for n in range(1, 6):
        dispatcher.emit(ev(n))
    gate.opened.set()
    dropped = gate.recorder.wait_for(EventsDropped, timeout=WAIT)
    assert dropped.failed
    assert dropped.count == 4  # the 3 waiting plus the one that did not fit
    dispatcher.emit(ev(6))
    other.wait_for(LeaveOk, lambda e: e.topic == "t6", timeout=WAIT)
    assert topics(gate.recorder.events) == ["t0"]  # nothing after the failure
    assert topics(other.events) == [f"t{n}" for n in range(7)]  # the others are unaffected


def test_a_raising_callback_is_reported_and_keeps_receiving(
    dispatcher: EventDispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def flaky(event: Event) -> None:
        if isinstance(event, LeaveOk):
            seen.append(event.topic)
            if event.topic == "t1":
                raise ValueError("boom")

    def also_raises_on_reports(event: Event) -> None:
        if isinstance(event, InternalError):
            raise RuntimeError("a failing report handler must not loop")

    watcher = EventRecorder()
    dispatcher.subscribe(flaky)
    dispatcher.subscribe(also_raises_on_reports)
    dispatcher.subscribe(watcher)
    for n in range(3):
        dispatcher.emit(ev(n))
    report = watcher.wait_for(InternalError, timeout=WAIT)
    watcher.wait_for(LeaveOk, lambda e: e.topic == "t2", timeout=WAIT)
    assert "ValueError" in report.reason
    assert report.error == "SubscriberError"
    dispatcher.emit(ev(3))
    watcher.wait_for(LeaveOk, lambda e: e.topic == "t3", timeout=WAIT)
    assert seen == ["t0", "t1", "t2", "t3"]
    # the handler that raised on the report was logged, not reported again
    assert len(watcher.of_type(InternalError)) == 1
    assert any("boom" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_stop_from_a_callback_returns_and_no_callback_runs_after(
    dispatcher: EventDispatcher,
) -> None:
    calls: list[str] = []
    stopped = threading.Event()

    def stopper(event: Event) -> None:
        assert isinstance(event, LeaveOk)
        calls.append(event.topic)
        if event.topic == "t1":
            assert dispatcher.stop(WAIT)  # returns at once: this callback is the last
            stopped.set()

    dispatcher.subscribe(stopper)
    for n in range(5):
        dispatcher.emit(ev(n))
    assert stopped.wait(WAIT)
    dispatcher.emit(ev(9))
    assert dispatcher.stop(WAIT)  # joins the thread: nothing can run after this
    assert calls == ["t0", "t1"]


def test_stop_waits_for_the_running_callback_then_nothing_runs() -> None:
    d = EventDispatcher("test")
    gate = Gate()
    d.subscribe(gate)
    d.emit(ev(0))
    d.emit(ev(1))
    assert gate.entered.wait(WAIT)
    assert not d.stop(0.05)  # the callback is still inside: stop says so
    gate.opened.set()
    assert d.stop(WAIT)
    assert topics(gate.recorder.events) == ["t0"]  # the waiting event was dropped


def test_iterate_yields_in_order_and_ends_after_its_timeout(dispatcher: EventDispatcher) -> None:
    feed = dispatcher.iterate(timeout=0.05)
    for n in range(3):
        dispatcher.emit(ev(n))
    assert topics(list(feed)) == ["t0", "t1", "t2"]


def test_iterate_reports_overflow_and_fail_ends_it(dispatcher: EventDispatcher) -> None:
    feed = dispatcher.iterate(timeout=WAIT, backlog=2, overflow="fail")
    for n in range(4):
        dispatcher.emit(ev(n))
    got = list(feed)
    assert len(got) == 1
    assert isinstance(got[0], EventsDropped)
    assert got[0].failed
    assert got[0].subscriber == "events()"


def test_iterate_ends_when_the_dispatcher_stops() -> None:
    d = EventDispatcher("test")
    feed = d.iterate(timeout=WAIT)
    ended = threading.Event()

    def consume() -> None:
        list(feed)
        ended.set()

    consumer = threading.Thread(target=consume, name="consumer")
    consumer.start()
    assert d.stop(WAIT)
    assert ended.wait(WAIT)
    consumer.join(WAIT)


def test_an_actor_ref_subscriber_is_told_each_event(dispatcher: EventDispatcher) -> None:
    recorder = EventRecorder()

    class Sink(pykka.ThreadingActor):
        def on_receive(self, message: object) -> None:
            if isinstance(message, LeaveOk):
                recorder(message)

    ref = Sink.start()
    try:
        dispatcher.subscribe(ref)
        dispatcher.emit(ev(1))
        recorder.wait_for(LeaveOk, timeout=WAIT)
    finally:
        ref.stop()
    dispatcher.emit(ev(2))  # a dead actor is unsubscribed, not an error


def test_bad_subscriptions_raise_typed_errors(dispatcher: EventDispatcher) -> None:
    with pytest.raises(InvalidTypeError):
        dispatcher.subscribe(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        dispatcher.subscribe(print, backlog=0)
    with pytest.raises(InvalidArgumentError):
        dispatcher.subscribe(print, overflow="keep_all")  # type: ignore[arg-type]
