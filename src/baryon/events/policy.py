"""The retry schedule of a webhook delivery, as data stored with each delivery job.

Invariants: the n-th retry waits `initial_delay * multiplier**(n-1)` seconds capped at `max_delay`,
spread by up to ±`jitter` of itself; the spread is a function of the delivery id and the attempt, so
deliveries that failed together do not retry together, and a given schedule can be replayed; a delivery
gives up (failed) after `max_attempts` attempts or once `give_up_after` seconds have passed since its
event.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class DeliveryPolicy:
    initial_delay: float = 5.0
    multiplier: float = 2.0
    max_delay: float = 3600.0
    jitter: float = 0.2
    max_attempts: int = 32
    give_up_after: float = 24 * 3600.0
    #: Seconds a target has to answer one attempt.
    timeout: float = 10.0

    def base_delay(self, attempt: int) -> float:
        """The wait after the `attempt`-th failed attempt (1-based), before jitter."""
        return float(min(self.max_delay, self.initial_delay * self.multiplier ** max(0, attempt - 1)))

    def delay(self, delivery_id: str, attempt: int) -> float:
        """The wait after the `attempt`-th failed attempt of the delivery, jitter included."""
        digest = hashlib.sha256(f"{delivery_id}:{attempt}".encode()).digest()
        spread = int.from_bytes(digest[:8], "big") / 2**64 * 2 - 1  # in [-1, 1)
        return self.base_delay(attempt) * (1 + self.jitter * spread)

    def gives_up(self, attempts: int, age: float) -> bool:
        """Whether a delivery that failed `attempts` times, `age` seconds after its event, stops."""
        return attempts >= self.max_attempts or age >= self.give_up_after

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DeliveryPolicy:
        known = {name: data[name] for name in cls.__dataclass_fields__ if data and name in data}
        return cls(**known)


DEFAULT = DeliveryPolicy()
