"""Console pages over HTTP without a browser (Baryon's app in a thread of this process): long lists page with
the API's nextToken, and a bad token is the API's message on a page, not a failure."""

from __future__ import annotations

import html
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from typing import Any

import pytest

from baryon.protocol.sigv4 import Credential
from baryon.runtime import Runtime
from tests.support.api_server import ApiServer
from tests.support.databases import sqlite_only


@pytest.fixture
def server(runtime: Runtime) -> Iterator[ApiServer]:
    started = ApiServer(runtime).start()
    yield started
    started.stop()


def _browser() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))


def _sign_in(opener: urllib.request.OpenerDirector, url: str, credential: Credential) -> str:
    form = urllib.parse.urlencode(
        {
            "access_key_id": credential.access_key_id,
            "secret_access_key": credential.secret_access_key,
            "region": "us-east-1",
            "next": "/console/templates",
        }
    ).encode()
    with opener.open(f"{url}/console/sign-in", data=form, timeout=10) as response:
        assert response.url == f"{url}/console/templates"
        return str(response.read().decode())


def _links(page: str) -> list[str]:
    return [html.unescape(href) for href in re.findall(r'href="([^"]+)"', page)]


@sqlite_only
def test_long_lists_page_with_the_api_token(server: ApiServer, proton: Any, credential: Credential) -> None:
    for index in range(101):
        proton.create_environment_template(name=f"tpl-{index:03d}")
    opener = _browser()
    first = _sign_in(opener, server.url, credential)
    shown = re.findall(r">(tpl-\d{3})</a>", first)
    assert shown == [f"tpl-{i:03d}" for i in range(100)]
    (more,) = [link for link in _links(first) if link.startswith("?environmentNextToken=")]
    assert "More environment templates" in first
    with opener.open(f"{server.url}/console/templates{more}", timeout=10) as response:
        second = response.read().decode()
    assert re.findall(r">(tpl-\d{3})</a>", second) == ["tpl-100"]
    assert "More environment templates" not in second

    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(f"{server.url}/console/templates?environmentNextToken=bogus", timeout=10)
    assert caught.value.code == 400
    assert "ValidationException" in caught.value.read().decode()
