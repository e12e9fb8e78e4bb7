"""LoopWatch: the probe sees a loop held, the callback timer tells CPU from waiting."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from phoenix_actors.testing import LoopLag, LoopWatch


def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_a_callback_that_holds_the_loop_shows_in_both_figures() -> None:
    async def main() -> LoopLag:
        async with LoopWatch() as watch:
            await asyncio.sleep(0.005)  # the probe runs a few times
            _burn(0.030)  # this task's step holds the loop
            await asyncio.sleep(0.005)
        return watch.result()

    lag = asyncio.run(main())
    assert lag.longest_callback >= 0.029
    assert lag.max >= 0.025  # the probe woke at least that late
    assert lag.samples >= 2
    assert lag.p50 <= lag.p99 <= lag.max


def test_waiting_is_lateness_but_not_callback_cpu() -> None:
    """A blocking sleep (no CPU) holds the loop: the probe sees it, the CPU timer does not."""

    async def main() -> LoopLag:
        async with LoopWatch() as watch:
            await asyncio.sleep(0.003)
            threading.Event().wait(0.030)  # the point: a wait (no CPU) that blocks the loop
            await asyncio.sleep(0.003)
        return watch.result()

    lag = asyncio.run(main())
    assert lag.max >= 0.025
    assert lag.longest_callback < 0.020


def test_callbacks_of_other_threads_loops_are_not_counted() -> None:
    def other_loop() -> None:
        async def busy() -> None:
            _burn(0.030)

        asyncio.run(busy())

    async def main() -> LoopLag:
        async with LoopWatch() as watch:
            thread = threading.Thread(target=other_loop)
            thread.start()
            await asyncio.to_thread(thread.join, 5.0)
        return watch.result()

    lag = asyncio.run(main())
    assert lag.callbacks > 0
    assert lag.longest_callback < 0.020


def test_one_watch_at_a_time_and_restored_after() -> None:
    original = asyncio.Handle._run

    async def main() -> None:
        async with LoopWatch():
            assert asyncio.Handle._run is not original
            with pytest.raises(RuntimeError, match="another LoopWatch"):
                async with LoopWatch():
                    pass
        assert asyncio.Handle._run is original
        async with LoopWatch() as again:  # usable again once the first ended
            await asyncio.sleep(0.002)
        assert again.result().samples >= 1

    asyncio.run(main())


def test_result_before_any_probe_is_zeros() -> None:
    assert LoopWatch().result() == LoopLag(0, 0.0, 0.0, 0.0, 0.0, 0)
