"""Injectable providers of time and identifiers, so that engine and API tests control both.

Invariants: `Clock.now()` is epoch seconds (UTC); ids from `Ids` are lowercase UUID4 strings.
"""

from __future__ import annotations

import time
import uuid
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class Ids(Protocol):
    def uuid(self) -> str: ...


class RandomIds:
    def uuid(self) -> str:
        return str(uuid.uuid4())
