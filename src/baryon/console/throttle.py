"""A limit on failed console sign-ins, per client address and per access key ID.

Invariants: after `limit` failed sign-ins within `window` seconds from one client address, or naming one
access key ID, further sign-ins from that address or for that key are refused (without checking the key)
until the oldest failure leaves the window; a successful sign-in forgets its access key's failures (not its
address's); `limit` 0 means no limit. The count lives in the process (each `--workers` process keeps its
own) and holds at most `MAX_KEYS` addresses and keys, dropping those idle longest.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque

#: Seconds a failed sign-in counts against its address and key.
WINDOW_SECONDS = 900.0
#: Addresses and keys remembered at most (the oldest are forgotten first).
MAX_KEYS = 10_000


class SignInThrottle:
    def __init__(self, limit: int, window: float = WINDOW_SECONDS, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def keys(address: str | None, access_key_id: str) -> tuple[str, ...]:
        found = [f"address:{address or 'unknown'}"]
        if access_key_id:
            found.append(_key(access_key_id))
        return tuple(found)

    def wait(self, keys: tuple[str, ...], now: float) -> int:
        """Whole seconds until a sign-in for `keys` may be tried again; 0 when it may be tried now."""
        if self.limit <= 0:
            return 0
        longest = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if times is not None and len(times) >= self.limit:
                    longest = max(longest, times[0] + self.window - now)
        return math.ceil(longest) if longest > 0 else 0

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        if self.limit <= 0:
            return
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if times is None:
                    times = self._failures[key] = deque(maxlen=self.limit)
                times.append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, access_key_id: str) -> None:
        with self._lock:
            self._failures.pop(_key(access_key_id), None)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        """The failures of `key` still inside the window (those outside are dropped); the lock is held."""
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times


def _key(access_key_id: str) -> str:
    """The count kept for an access key ID (cut to 128 characters: the client chooses it)."""
    return f"key:{access_key_id[:128]}"
