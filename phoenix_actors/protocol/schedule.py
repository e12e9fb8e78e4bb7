"""Reconnect / rejoin schedules and push retry strategies, as pure functions.

A schedule maps a try count to a wait in float seconds, like phoenix.js
``Timer(callback, timerCalc)`` (``timer.js``): ``tries`` is 1 for the first
scheduled wait, grows only when the timer fires and goes back to 0 on
``reset()``. The defaults are those of ``socket.js`` (``PROTOCOL.md`` §4).

A retry strategy (the Elm API's ``RetryStrategy``) says what to do with a push
that timed out: :class:`Drop` it (the default), retry it :class:`Every`
``seconds``, or :class:`Backoff` through a list of steps, then every ``max``
seconds, or drop it once the steps run out when ``max`` is ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final

import msgspec

from phoenix_actors.errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "RECONNECT_STEPS",
    "REJOIN_STEPS",
    "Backoff",
    "Drop",
    "Every",
    "RetryStrategy",
    "RetryStrategyT",
    "Schedule",
    "make_schedule",
    "reconnect_after",
    "rejoin_after",
    "retry_delay",
]

RECONNECT_STEPS: Final = (0.010, 0.050, 0.100, 0.150, 0.200, 0.250, 0.500, 1.0, 2.0)
"""phoenix.js ``reconnectAfterMs`` steps, in seconds, for tries 1 to 9."""

RECONNECT_AFTER_LAST: Final = 5.0
"""The reconnect wait, in seconds, for every try past :data:`RECONNECT_STEPS`."""

REJOIN_STEPS: Final = (1.0, 2.0, 5.0)
"""phoenix.js ``rejoinAfterMs`` steps, in seconds, for tries 1 to 3."""

REJOIN_AFTER_LAST: Final = 10.0
"""The rejoin wait, in seconds, for every try past :data:`REJOIN_STEPS`."""

Schedule = Sequence[float] | Callable[[int], float]
"""A user schedule: a list of steps (the last one repeated) or a function of the try."""


def _stepped(steps: Sequence[float], fallback: float, tries: int) -> float:
    # phoenix.js reads `steps[tries - 1] || fallback`: any try outside the
    # list, zero and negatives included, gets the fallback.
    if 1 <= tries <= len(steps):
        return steps[tries - 1]
    return fallback


def reconnect_after(tries: int) -> float:
    """Return the socket's wait before reconnect try ``tries`` (phoenix.js default).

    Args:
        tries: 1 for the first wait after the connection went down.

    Returns:
        0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 1 and 2 seconds for tries 1 to 9,
        then 5 seconds.
    """
    return _stepped(RECONNECT_STEPS, RECONNECT_AFTER_LAST, tries)


def rejoin_after(tries: int) -> float:
    """Return a channel's wait before rejoin try ``tries`` (phoenix.js default).

    Args:
        tries: 1 for the first wait after the channel errored.

    Returns:
        1, 2 and 5 seconds for tries 1 to 3, then 10 seconds.
    """
    return _stepped(REJOIN_STEPS, REJOIN_AFTER_LAST, tries)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_seconds(field: str, value: object, *, positive: bool = False) -> float:
    """Return ``value`` as float seconds, or raise an error naming ``field``."""
    if not _is_number(value):
        msg = f"{field} must be a number of seconds, not {type(value).__name__}"
        raise InvalidTypeError(msg)
    seconds = float(value)  # type: ignore[arg-type]  # checked just above
    if not math.isfinite(seconds):
        msg = f"{field} must be a finite number of seconds, got {value!r}"
        raise InvalidArgumentError(msg)
    if positive and seconds <= 0:
        msg = f"{field} must be > 0 seconds, got {value!r}"
        raise InvalidArgumentError(msg)
    if seconds < 0:
        msg = f"{field} must be >= 0 seconds, got {value!r}"
        raise InvalidArgumentError(msg)
    return seconds


def _check_steps(field: str, steps: object) -> tuple[float, ...]:
    """Return ``steps`` as a tuple of float seconds, or raise an error naming ``field``."""
    if isinstance(steps, str | bytes) or not isinstance(steps, Sequence):
        msg = f"{field} must be a sequence of seconds, not {type(steps).__name__}"
        raise InvalidTypeError(msg)
    return tuple(_check_seconds(f"{field}[{i}]", step) for i, step in enumerate(steps))


def make_schedule(
    spec: Schedule | None,
    default: Callable[[int], float],
    *,
    field: str = "schedule",
) -> Callable[[int], float]:
    """Turn a user schedule into a function of the try count.

    Args:
        spec: ``None`` for ``default``; a callable, used as given; or a
            non-empty sequence of seconds >= 0, step ``i`` for try ``i`` and
            the last step for every later try (and the first for tries < 1).
        default: The schedule used when ``spec`` is ``None``.
        field: The option's name, used in error messages.

    Returns:
        A function from the try count (1 for the first wait) to seconds.

    Raises:
        InvalidTypeError: ``spec`` is neither a callable nor a sequence of numbers.
        InvalidArgumentError: ``spec`` is empty, or a step is negative or not finite.
    """
    if spec is None:
        return default
    if callable(spec):
        return spec
    steps = _check_steps(field, spec)
    if not steps:
        msg = f"{field} must have at least one step"
        raise InvalidArgumentError(msg)

    def schedule(tries: int) -> float:
        return steps[min(max(tries, 1), len(steps)) - 1]

    return schedule


class RetryStrategy(msgspec.Struct, frozen=True, tag=True):
    """What to do with a push that timed out: :class:`Drop`, :class:`Every` or :class:`Backoff`."""


class Drop(RetryStrategy, frozen=True, tag=True):
    """Never retry: a timed-out push is dropped (the default)."""


class Every(RetryStrategy, frozen=True, tag=True):
    """Retry every ``seconds``, forever.

    Raises:
        InvalidTypeError: ``seconds`` is not a number (a bool is not a number).
        InvalidArgumentError: ``seconds`` is not finite and > 0.
    """

    seconds: float
    """Wait before each retry, in seconds (> 0)."""

    def __post_init__(self) -> None:
        """Validate and normalise ``seconds`` to a float."""
        msgspec.structs.force_setattr(
            self, "seconds", _check_seconds("seconds", self.seconds, positive=True)
        )


class Backoff(RetryStrategy, frozen=True, tag=True):
    """Retry after each of ``steps`` in turn, then every ``max`` seconds.

    When ``max`` is ``None`` the push is dropped once the steps run out, which
    limits the number of retries: ``Backoff([1, 5, 10])`` retries three times.

    Raises:
        InvalidTypeError: ``steps`` is not a sequence of numbers, or ``max`` is
            neither ``None`` nor a number.
        InvalidArgumentError: a step or ``max`` is negative or not finite, or
            there are no steps and no ``max``.
    """

    steps: Sequence[float]
    """Waits in seconds (>= 0) for retries 1, 2, ...; stored as a tuple."""
    max: float | None = None
    """Wait in seconds for every retry past ``steps``; ``None`` drops the push instead."""

    def __post_init__(self) -> None:
        """Validate, store ``steps`` as a tuple and ``max`` as a float."""
        steps = _check_steps("steps", self.steps)
        maximum = None if self.max is None else _check_seconds("max", self.max)
        if not steps and maximum is None:
            msg = "steps is empty and max is None: no steps and no max, so nothing to retry"
            raise InvalidArgumentError(msg)
        msgspec.structs.force_setattr(self, "steps", steps)
        msgspec.structs.force_setattr(self, "max", maximum)


RetryStrategyT = Drop | Every | Backoff
"""The union of retry strategies, for annotations and typed decoding."""


def retry_delay(strategy: RetryStrategy, attempt: int) -> float | None:
    """Return the wait before retry ``attempt`` of a timed-out push, or ``None`` to drop it.

    Args:
        strategy: The push's retry strategy.
        attempt: 1 for the first retry after the first timeout, 2 after the
            retry timed out too, and so on.

    Returns:
        Seconds to wait before sending again, or ``None``: drop the push.

    Raises:
        InvalidArgumentError: ``attempt`` is below 1.
        InvalidTypeError: ``strategy`` is not a retry strategy.
    """
    if attempt < 1:
        msg = f"attempt must be >= 1, got {attempt!r}"
        raise InvalidArgumentError(msg)
    match strategy:
        case Drop():
            return None
        case Every(seconds=seconds):
            return seconds
        case Backoff(steps=steps, max=maximum):
            if attempt <= len(steps):
                return steps[attempt - 1]
            return maximum
    msg = f"strategy must be Drop, Every or Backoff, not {type(strategy).__name__}"
    raise InvalidTypeError(msg)
