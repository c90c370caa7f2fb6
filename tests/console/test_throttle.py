"""Failed console sign-ins are limited per client address and per access key ID."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from baryon.console.throttle import SignInThrottle
from baryon.protocol.sigv4 import Credential
from baryon.runtime import Runtime
from tests.support.api_server import ApiServer
from tests.support.databases import sqlite_only

HERE = SignInThrottle.keys("10.0.0.1", "AKIDALICE")


def _fail(throttle: SignInThrottle, keys: tuple[str, ...], times: int, now: float) -> None:
    for _ in range(times):
        throttle.failed(keys, now)


def test_the_limit_holds_until_the_oldest_failure_leaves_the_window() -> None:
    throttle = SignInThrottle(3, window=60.0)
    _fail(throttle, HERE, 2, now=100.0)
    assert throttle.wait(HERE, 100.0) == 0
    throttle.failed(HERE, 130.0)
    assert throttle.wait(HERE, 130.0) == 30
    assert throttle.wait(HERE, 159.5) == 1
    assert throttle.wait(HERE, 160.0) == 0
    _fail(throttle, HERE, 1, now=160.0)
    assert throttle.wait(HERE, 160.0) == 0
    _fail(throttle, HERE, 1, now=170.0)
    assert throttle.wait(HERE, 170.0) == 20


def test_address_and_key_count_apart() -> None:
    throttle = SignInThrottle(2, window=60.0)
    _fail(throttle, HERE, 2, now=0.0)
    # Another key from the same address is refused, and the same key from another address too.
    assert throttle.wait(SignInThrottle.keys("10.0.0.1", "AKIDBOB"), 1.0) == 59
    assert throttle.wait(SignInThrottle.keys("10.0.0.2", "AKIDALICE"), 1.0) == 59
    assert throttle.wait(SignInThrottle.keys("10.0.0.2", "AKIDBOB"), 1.0) == 0
    # A success forgets its key's failures, not the address's.
    throttle.succeeded("AKIDALICE")
    assert throttle.wait(SignInThrottle.keys("10.0.0.2", "AKIDALICE"), 1.0) == 0
    assert throttle.wait(SignInThrottle.keys("10.0.0.1", "AKIDBOB"), 1.0) == 59


def test_no_limit_at_zero_and_memory_is_bounded() -> None:
    unlimited = SignInThrottle(0)
    _fail(unlimited, HERE, 50, now=0.0)
    assert unlimited.wait(HERE, 0.0) == 0

    bounded = SignInThrottle(1, window=60.0, max_keys=4)
    for index in range(10):
        bounded.failed(SignInThrottle.keys(f"10.0.1.{index}", ""), float(index))
    assert bounded.wait(SignInThrottle.keys("10.0.1.0", ""), 10.0) == 0
    assert bounded.wait(SignInThrottle.keys("10.0.1.9", ""), 10.0) == 59


@pytest.fixture
def limited_server(runtime: Runtime) -> Iterator[ApiServer]:
    runtime.settings.console_sign_in_limit = 3
    started = ApiServer(runtime).start()
    yield started
    started.stop()


def _sign_in(url: str, access_key_id: str, secret: str) -> tuple[int, str, str | None, str | None]:
    form = urllib.parse.urlencode(
        {"access_key_id": access_key_id, "secret_access_key": secret, "region": "us-east-1"}
    ).encode()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect())
    try:
        with opener.open(f"{url}/console/sign-in", data=form, timeout=10) as response:
            return response.status, response.read().decode(), response.headers.get("Set-Cookie"), None
    except urllib.error.HTTPError as error:
        body = error.read().decode()
        return error.code, body, error.headers.get("Set-Cookie"), error.headers.get("Retry-After")


@sqlite_only
def test_sign_in_is_refused_after_repeated_failures(
    limited_server: ApiServer, credential: Credential
) -> None:
    url = limited_server.url
    for _ in range(3):
        code, body, cookie, _ = _sign_in(url, credential.access_key_id, "wrong")
        assert code == 401 and cookie is None
        assert "The access key ID or secret access key is not valid." in body
    # Now even the right secret is refused, before it is checked, and no session is made.
    code, body, cookie, retry_after = _sign_in(url, credential.access_key_id, credential.secret_access_key)
    assert code == 429 and cookie is None
    assert retry_after is not None and 0 < int(retry_after) <= 900
    assert f"Too many failed sign-ins; try again in {retry_after} seconds." in body
    assert credential.secret_access_key not in body
