"""What a job step returns: values, not exceptions, for every expected result.

Invariants: a step returns exactly one outcome; `Retry` is for transient trouble and obeys the job's
retry policy, `Failed` is final; `Wait` means "poll again at `at`" and does not count as an attempt.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Done:
    message: str = ""


@dataclass(frozen=True)
class Wait:
    at: float


@dataclass(frozen=True)
class Retry:
    reason: str


@dataclass(frozen=True)
class Failed:
    message: str


Outcome = Done | Wait | Retry | Failed


@dataclass(frozen=True)
class RetryPolicy:
    """Retry policy stored with each job: exponential backoff, bounded attempts."""

    max_attempts: int = 8
    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay, self.initial_delay * self.multiplier ** max(0, attempt - 1)))

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> RetryPolicy:
        return cls(
            max_attempts=int(data.get("max_attempts", 8)),
            initial_delay=float(data.get("initial_delay", 1.0)),
            multiplier=float(data.get("multiplier", 2.0)),
            max_delay=float(data.get("max_delay", 60.0)),
        )
