"""A clock that moves only when a test moves it, for the `Clock` seam of the runtime and the engine."""

from __future__ import annotations


class ManualClock:
    """`now()` is `t`, in epoch seconds; a test sets `t` or calls `advance`."""

    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        self.t += seconds
        return self.t

    @property
    def value(self) -> float:
        return self.t

    @value.setter
    def value(self, t: float) -> None:
        self.t = t
