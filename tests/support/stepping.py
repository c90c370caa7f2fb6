"""Driving the engine step by step on a clock the test moves: no worker threads, no sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from baryon.engine.worker import Worker
from baryon.runtime import Runtime

T = TypeVar("T")
STEP_SECONDS = 5.0


class SteppedClock:
    """Epoch seconds that move only when the test says (starting now, so request signatures stay valid)."""

    def __init__(self) -> None:
        self.value = time.time()

    def now(self) -> float:
        return self.value


class Engine:
    """A worker driven by the test on the runtime's clock, which it replaces with a `SteppedClock`: each
    pass runs every due job, then the clock moves on by STEP_SECONDS."""

    def __init__(self, runtime: Runtime) -> None:
        self.clock = SteppedClock()
        runtime.clock = self.clock
        self.worker = Worker(runtime)

    def run_due(self) -> None:
        while self.worker.run_once():
            pass

    def until(self, probe: Callable[[], T | None], passes: int = 100) -> T:
        """Run passes until `probe` answers something true; fail loudly after `passes`."""
        for _ in range(passes):
            self.run_due()
            value = probe()
            if value:
                return value
            self.clock.value += STEP_SECONDS
        raise AssertionError(f"condition not met within {passes} passes of {STEP_SECONDS} s")
