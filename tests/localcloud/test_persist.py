"""Which requests count as changes, the gate between requests and snapshots, and the debounced saver."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest

from baryon.localcloud.persist import Gate, Saver, mutates
from tests.support.waiting import poll


def _environ(method: str, body: bytes = b"", **headers: str) -> dict[str, Any]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "wsgi.input": io.BytesIO(body), "QUERY_STRING": ""}
    environ.update(headers)
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


FORM = "application/x-www-form-urlencoded; charset=utf-8"


@pytest.mark.parametrize(
    ("environ", "changes"),
    [
        (_environ("GET"), False),
        (_environ("HEAD"), False),
        (_environ("PUT"), True),  # an S3 object
        (_environ("DELETE"), True),
        (_environ("POST", b"Action=DescribeStacks&Version=2010-05-15", CONTENT_TYPE=FORM), False),
        (_environ("POST", b"Action=ListStackResources", CONTENT_TYPE=FORM), False),
        (_environ("POST", b"Action=CreateStack&StackName=a", CONTENT_TYPE=FORM), True),
        (_environ("POST", b"Action=AssumeRole", CONTENT_TYPE=FORM), True),
        (_environ("POST", b"{}", HTTP_X_AMZ_TARGET="AmazonSSM.GetParameter"), False),
        (_environ("POST", b"{}", HTTP_X_AMZ_TARGET="AmazonSSM.PutParameter"), True),
        (_environ("POST", b"{}", QUERY_STRING="Action=GetQueueUrl"), False),
        (_environ("POST", b"x=1", CONTENT_TYPE=FORM), True),  # no action: counts as a change
        (_environ("POST", b"\x1f\x8b", CONTENT_TYPE=FORM, HTTP_CONTENT_ENCODING="gzip"), True),
    ],
)
def test_what_counts_as_a_change(environ: dict[str, Any], changes: bool) -> None:
    body = environ["wsgi.input"].getvalue()
    assert mutates(environ) is changes
    assert environ["wsgi.input"].read() == body  # the application still reads the whole body


def test_a_snapshot_waits_for_requests_and_holds_new_ones_back() -> None:
    gate = Gate()
    order: list[str] = []
    request_inside, writer_waiting = threading.Event(), threading.Event()

    def request() -> None:
        with gate.shared():
            request_inside.set()
            writer_waiting.wait(10)
            order.append("request")

    def snapshot() -> None:
        request_inside.wait(10)
        writer_waiting.set()
        with gate.exclusive():
            order.append("snapshot")

    threads = [threading.Thread(target=request), threading.Thread(target=snapshot)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert order == ["request", "snapshot"]


def test_the_saver_writes_after_changes_and_at_close() -> None:
    writes: list[int] = []
    saver = Saver(Gate(), lambda: writes.append(1), quiet=0.0, longest=0.0)
    saver.changed()
    poll(lambda: len(writes), timeout=10)
    saver.close()
    assert len(writes) == 1  # nothing was pending at close

    pending: list[int] = []
    slow = Saver(Gate(), lambda: pending.append(1), quiet=60.0, longest=60.0)
    slow.changed()
    slow.close()
    assert pending == [1]  # the change still unsaved is written at close


def test_a_failed_write_is_retried_at_close() -> None:
    attempts: list[int] = []

    def write() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("disk full")

    saver = Saver(Gate(), write, quiet=0.0, longest=0.0)
    saver.changed()
    poll(lambda: len(attempts), timeout=10)
    saver.close()
    assert len(attempts) == 2
