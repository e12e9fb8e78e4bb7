"""Suite-wide fixtures: every test must leave no actor and no thread behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pykka
import pytest

LEAK_GRACE = 5.0  # seconds a stopping thread gets to finish before it counts as leaked


def _live_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive()}


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaves an actor running or a thread alive."""
    before = _live_threads()
    yield
    leaked_actors = pykka.ActorRegistry.get_all()
    if leaked_actors:
        pykka.ActorRegistry.stop_all(timeout=LEAK_GRACE)
        pytest.fail(f"actors left running: {leaked_actors}")
    extra = _live_threads() - before
    for thread in extra:
        thread.join(timeout=LEAK_GRACE)
    leaked = [t.name for t in extra if t.is_alive()]
    if leaked:
        pytest.fail(f"threads left running: {leaked}")
