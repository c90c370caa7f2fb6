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
from tests.support import bundles, publishing
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


PIPED_SCHEMA = bundles.service_schema(
    bundles.properties(bundles.PORT_INPUT),
    bundles.properties(
        """        dockerfile:
          type: string
          title: Dockerfile
          description: A path in the repository.
          pattern: "^[A-Za-z0-9./_-]+$"
          default: Dockerfile
"""
    ),
)


@sqlite_only
def test_the_service_form_asks_for_the_pipeline_inputs(
    server: ApiServer, proton: Any, s3: Any, credential: Credential, worker: Any
) -> None:
    published_env = publishing.publish_environment_template(
        proton, s3, "some-env", bundles.environment_bundle()
    )
    assert published_env["status"] == "PUBLISHED"
    publishing.publish_service_template(
        proton,
        s3,
        "piped",
        bundles.tar_gz(
            bundles.cfn_service_files(PIPED_SCHEMA, bundles.CFN_INSTANCE, bundles.CFN_PIPELINE), "service/"
        ),
        compatible="some-env",
    )
    opener = _browser()
    _sign_in(opener, server.url, credential)
    with opener.open(f"{server.url}/console/services/new?template=piped", timeout=10) as response:
        page = response.read().decode()
    # The pipeline's inputs have their own fieldset, with the schema's title, help and default.
    assert "<legend>Pipeline</legend>" in page
    # The name's pattern reaches the browser as written (a backslash before the class's dash).
    assert 'pattern="[0-9A-Za-z][0-9A-Za-z_\\-]{0,99}"' in page
    field = re.search(
        r'<input type="text" id="field-pipeline\.dockerfile" name="pipeline\.dockerfile" value="([^"]*)"',
        page,
    )
    assert field is not None and field.group(1) == "Dockerfile"
    assert '<label for="field-pipeline.dockerfile">Dockerfile</label>' in page
    assert 'id="field-pipeline.dockerfile-help">A path in the repository.</p>' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None

    # A pipeline input the schema refuses: the message beside that field, the form as typed, nothing made.
    form = urllib.parse.urlencode(
        {
            "csrf_token": html.unescape(token.group(1)),
            "template": "piped",
            "name": "shop",
            "instance.0.name": "one",
            "instance.0.environment": "dev",
            "instance.0.input.port": "8080",
            "pipeline.dockerfile": "no spaces allowed",
        }
    ).encode()
    request = urllib.request.Request(
        f"{server.url}/console/services/new", data=form, headers={"Origin": server.url}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(request, timeout=10)
    assert refused.value.code == 400
    again = refused.value.read().decode()
    problems = re.search(
        r'<ul class="problems" id="field-pipeline\.dockerfile-problems">(.*?)</ul>', again, re.S
    )
    assert problems is not None and "dockerfile" in problems.group(1)
    assert 'name="pipeline.dockerfile" value="no spaces allowed"' in again
    assert proton.list_services()["services"] == []


def test_every_console_template_compiles_cleanly() -> None:
    """Every page's template compiles without a warning (warnings are errors in the tests): a string
    literal with an escape Jinja does not know would warn in every server process."""
    from baryon.console.web import TEMPLATES

    names = TEMPLATES.list_templates()
    assert "service_form.html" in names and len(names) > 10
    for name in names:
        TEMPLATES.get_template(name)
