"""Reconnect / rejoin schedules and retry strategies (phoenix.js socket.js, timer.js)."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoenix_actors.errors import InvalidArgumentError, InvalidTypeError
from phoenix_actors.protocol.schedule import (
    Backoff,
    Drop,
    Every,
    RetryStrategy,
    RetryStrategyT,
    make_schedule,
    reconnect_after,
    rejoin_after,
    retry_delay,
)

BAD: Any = "1"
BAD_INT: Any = 3

seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)


# --- phoenix.js defaults ----------------------------------------------------------------------


def test_reconnect_backs_off_10ms_to_2s_then_5s() -> None:
    expected = [0.010, 0.050, 0.100, 0.150, 0.200, 0.250, 0.500, 1.0, 2.0, 5.0, 5.0, 5.0]
    assert [reconnect_after(tries) for tries in range(1, 13)] == expected
    assert reconnect_after(10_000) == 5.0


def test_rejoin_backs_off_1_2_5_then_10s() -> None:
    assert [rejoin_after(tries) for tries in range(1, 7)] == [1.0, 2.0, 5.0, 10.0, 10.0, 10.0]


def test_try_zero_or_negative_gets_the_fallback_like_phoenix_js() -> None:
    # `[...][tries - 1] || 5000` is undefined for index -1, hence the fallback.
    assert reconnect_after(0) == 5.0
    assert rejoin_after(0) == 10.0
    assert rejoin_after(-3) == 10.0


def test_a_reset_schedule_starts_again_at_the_first_step() -> None:
    # timer.js: a fire waits calc(tries + 1) then bumps tries; reset() zeroes tries.
    waits = [rejoin_after(tries + 1) for tries in range(4)]
    tries_after_reset = 0
    waits.append(rejoin_after(tries_after_reset + 1))
    assert waits == [1.0, 2.0, 5.0, 10.0, 1.0]


# --- make_schedule ----------------------------------------------------------------------------


def test_make_schedule_none_gives_the_default() -> None:
    assert make_schedule(None, rejoin_after) is rejoin_after


def test_make_schedule_callable_is_used_as_given() -> None:
    def double(tries: int) -> float:
        return 2.0 * tries

    assert make_schedule(double, rejoin_after) is double


def test_make_schedule_list_repeats_its_last_step() -> None:
    schedule = make_schedule([0.5, 1, 3], reconnect_after)
    assert [schedule(t) for t in range(1, 7)] == [0.5, 1.0, 3.0, 3.0, 3.0, 3.0]
    assert schedule(0) == 0.5
    assert all(isinstance(schedule(t), float) for t in range(1, 5))


def test_make_schedule_copies_the_list() -> None:
    steps = [1.0, 2.0]
    schedule = make_schedule(steps, rejoin_after)
    steps.append(99.0)
    assert schedule(3) == 2.0


@pytest.mark.parametrize(
    ("spec", "error", "words"),
    [
        ([], InvalidArgumentError, "rejoin_after must have at least one step"),
        ([1, -1], InvalidArgumentError, "rejoin_after[1]"),
        ([math.inf], InvalidArgumentError, "rejoin_after[0]"),
        ([math.nan], InvalidArgumentError, "rejoin_after[0]"),
        (["1"], InvalidTypeError, "rejoin_after[0]"),
        ([True], InvalidTypeError, "rejoin_after[0]"),
        ("123", InvalidTypeError, "rejoin_after"),
        (5, InvalidTypeError, "rejoin_after"),
    ],
)
def test_make_schedule_rejects_bad_steps_naming_the_field(
    spec: Any, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=f"^{words.replace('[', '.').replace(']', '.')}"):
        make_schedule(spec, rejoin_after, field="rejoin_after")


@given(st.lists(seconds, min_size=1, max_size=10), st.integers(min_value=1, max_value=50))
def test_make_schedule_steps_then_last_forever(steps: list[float], tries: int) -> None:
    schedule = make_schedule(steps, reconnect_after)
    assert schedule(tries) == steps[min(tries, len(steps)) - 1]


# --- retry strategies -------------------------------------------------------------------------


def test_drop_never_retries() -> None:
    assert [retry_delay(Drop(), attempt) for attempt in (1, 2, 100)] == [None, None, None]


def test_every_retries_at_the_same_interval_forever() -> None:
    assert [retry_delay(Every(2.5), attempt) for attempt in (1, 2, 3, 1000)] == [2.5] * 4
    assert Every(3).seconds == 3.0
    assert isinstance(Every(3).seconds, float)


def test_backoff_walks_the_steps_then_caps_at_max() -> None:
    strategy = Backoff([1, 5, 10, 20], max=30)
    assert [retry_delay(strategy, a) for a in range(1, 8)] == [1, 5, 10, 20, 30, 30, 30]


def test_backoff_without_max_drops_after_the_steps() -> None:
    strategy = Backoff([1, 5])
    assert [retry_delay(strategy, a) for a in range(1, 5)] == [1.0, 5.0, None, None]


def test_backoff_with_only_max_retries_every_max() -> None:
    assert [retry_delay(Backoff([], 7), a) for a in (1, 2, 3)] == [7.0, 7.0, 7.0]


def test_backoff_stores_steps_as_a_tuple_and_is_hashable() -> None:
    steps = [1, 2]
    strategy = Backoff(steps, 3)
    steps.append(5)
    assert strategy.steps == (1.0, 2.0)
    assert hash(strategy) == hash(Backoff((1.0, 2.0), 3.0))
    assert strategy == Backoff((1.0, 2.0), 3.0)


def test_retry_delay_rejects_attempt_zero() -> None:
    with pytest.raises(InvalidArgumentError, match="attempt"):
        retry_delay(Every(1.0), 0)


def test_retry_delay_rejects_a_non_strategy() -> None:
    with pytest.raises(InvalidTypeError, match="strategy"):
        retry_delay(RetryStrategy(), 1)


@pytest.mark.parametrize(
    ("make", "error", "field"),
    [
        (lambda: Every(0), InvalidArgumentError, "seconds"),
        (lambda: Every(-1.0), InvalidArgumentError, "seconds"),
        (lambda: Every(math.nan), InvalidArgumentError, "seconds"),
        (lambda: Every(math.inf), InvalidArgumentError, "seconds"),
        (lambda: Every(True), InvalidTypeError, "seconds"),
        (lambda: Every(BAD), InvalidTypeError, "seconds"),
        (lambda: Backoff([]), InvalidArgumentError, "no steps and no max"),
        (lambda: Backoff([], None), InvalidArgumentError, "no steps and no max"),
        (lambda: Backoff([1, -2]), InvalidArgumentError, r"steps\[1\]"),
        (lambda: Backoff([1, False]), InvalidTypeError, r"steps\[1\]"),
        (lambda: Backoff(BAD), InvalidTypeError, "steps"),
        (lambda: Backoff(BAD_INT), InvalidTypeError, "steps"),
        (lambda: Backoff([1], -1), InvalidArgumentError, "max"),
        (lambda: Backoff([1], BAD), InvalidTypeError, "max"),
    ],
)
def test_strategy_validation_names_the_field(make: Any, error: type[Exception], field: str) -> None:
    with pytest.raises(error, match=field):
        make()


def test_strategies_round_trip_as_a_tagged_union() -> None:
    strategies: list[RetryStrategyT] = [Drop(), Every(1.5), Backoff([1, 2], 10), Backoff([3])]
    for strategy in strategies:
        data = msgspec.json.encode(strategy)
        assert msgspec.json.decode(data, type=RetryStrategyT) == strategy
    assert msgspec.json.encode(Drop()) == b'{"type":"Drop"}'


def test_decoding_a_bad_strategy_is_a_validation_error() -> None:
    with pytest.raises(msgspec.ValidationError, match="seconds"):
        msgspec.json.decode(b'{"type":"Every","seconds":0}', type=RetryStrategyT)


def test_strategies_are_frozen() -> None:
    strategy = Every(1.0)
    with pytest.raises(AttributeError):
        strategy.seconds = 2.0  # type: ignore[misc]


@settings(max_examples=200)
@given(
    st.lists(seconds, max_size=8),
    st.one_of(st.none(), seconds),
    st.integers(min_value=1, max_value=40),
)
def test_backoff_is_steps_then_max_forever(
    steps: list[float], maximum: float | None, attempt: int
) -> None:
    if not steps and maximum is None:
        with pytest.raises(InvalidArgumentError):
            Backoff(steps, maximum)
        return
    strategy = Backoff(steps, maximum)
    delay = retry_delay(strategy, attempt)
    if attempt <= len(steps):
        assert delay == steps[attempt - 1]
    else:
        assert delay == maximum
        assert retry_delay(strategy, attempt + 1) == delay
