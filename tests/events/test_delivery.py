"""Delivering events to webhook targets: a real HTTP receiver on 127.0.0.1, the engine stepped on a clock
the test moves (no sleeping): signatures, retries with backoff, giving up, isolation of accounts and of
targets from each other."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from typing import Any

import pytest
import sqlalchemy as sa

from baryon.events import format, outbox, targets
from baryon.events.policy import DEFAULT, DeliveryPolicy
from baryon.runtime import Runtime
from baryon.store.schema import event_deliveries
from tests.conftest import ACCOUNT, OTHER_ACCOUNT
from tests.support.events import deliveries
from tests.support.receiver import receiver
from tests.support.stepping import Engine

SECRET = "a-long-enough-webhook-secret"


def _target(runtime: Runtime, url: str, account_id: str = ACCOUNT, secret: str | None = SECRET) -> str:
    with runtime.database.write() as connection:
        return targets.create(
            connection,
            runtime.secrets,
            target_id=runtime.ids.uuid(),
            account_id=account_id,
            url=url,
            secret=secret,
            now=runtime.clock.now(),
        ).id


def _event(runtime: Runtime, account_id: str = ACCOUNT, name: str = "dev", status: str = "SUCCEEDED") -> str:
    with runtime.database.write() as connection:
        return outbox.emit(
            connection,
            detail_type=format.ENVIRONMENT,
            account_id=account_id,
            region="us-east-1",
            resource_arn=f"arn:aws:proton:us-east-1:{account_id}:environment/{name}",
            detail={"name": name, "status": status, "previousStatus": "IN_PROGRESS", "deploymentId": "d-1"},
            now=runtime.clock.now(),
        )


def _delivery(runtime: Runtime, event_id: str) -> Any:
    with runtime.database.read() as connection:
        return connection.execute(
            sa.select(event_deliveries).where(event_deliveries.c.event_id == event_id)
        ).one()


def test_a_delivery_is_signed_and_carries_the_event(runtime: Runtime) -> None:
    engine = Engine(runtime)
    with receiver() as hook:
        _target(runtime, hook.url)
        event_id = _event(runtime)
        engine.run_due()
        [got] = hook.received
    assert got.path == "/hook"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-baryon-event-id"] == event_id
    delivery = _delivery(runtime, event_id)
    assert got.headers["x-baryon-delivery-id"] == delivery.id
    expected = "sha256=" + hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["x-baryon-signature"], expected)
    event = json.loads(got.body)
    assert event["id"] == event_id
    assert event["detail-type"] == "AWS Proton Environment Status Change"
    assert event["source"] == "aws.proton" and event["account"] == ACCOUNT
    assert event["resources"] == [f"arn:aws:proton:us-east-1:{ACCOUNT}:environment/dev"]
    assert event["detail"]["status"] == "SUCCEEDED"
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at == engine.clock.now()


def test_an_unsigned_target_gets_no_signature(runtime: Runtime) -> None:
    engine = Engine(runtime)
    with receiver() as hook:
        _target(runtime, hook.url, secret=None)
        _event(runtime)
        engine.run_due()
        [got] = hook.received
    assert "x-baryon-signature" not in got.headers


def test_failures_are_retried_with_backoff_until_delivered(runtime: Runtime) -> None:
    engine = Engine(runtime)
    with receiver() as hook:
        hook.answers[:] = [500, 503]
        _target(runtime, hook.url)
        event_id = _event(runtime)
        engine.run_due()
        first = _delivery(runtime, event_id)
        assert (first.state, first.attempts, first.last_status_code) == ("pending", 1, 500)
        assert first.last_error.startswith("HTTP 500")
        wait = first.next_attempt_at - engine.clock.now()
        assert 5 * 0.8 <= wait <= 5 * 1.2
        assert wait == pytest.approx(DEFAULT.delay(first.id, 1))
        # Nothing is sent again before its time.
        engine.clock.value = first.next_attempt_at - 0.5
        engine.run_due()
        assert len(hook.received) == 1
        engine.clock.value = first.next_attempt_at
        engine.run_due()
        second = _delivery(runtime, event_id)
        assert (second.state, second.attempts, second.last_status_code) == ("pending", 2, 503)
        assert 10 * 0.8 <= second.next_attempt_at - engine.clock.now() <= 10 * 1.2
        engine.clock.value = second.next_attempt_at
        engine.run_due()
        third = _delivery(runtime, event_id)
        assert len(hook.received) == 3
    assert (third.state, third.attempts, third.last_status_code) == ("delivered", 3, 200)
    # Every attempt sent the same event, with the same ids, for the receiver to dedupe.
    assert {got.body for got in hook.received} == {hook.received[0].body}
    assert {got.headers["x-baryon-delivery-id"] for got in hook.received} == {third.id}


def test_a_delivery_gives_up_and_is_recorded_failed(runtime: Runtime) -> None:
    engine = Engine(runtime)
    with receiver() as hook:
        hook.answers[:] = [500] * 100
        _target(runtime, hook.url)
        event_id = _event(runtime)
        started = engine.clock.now()
        engine.run_due()
        while _delivery(runtime, event_id).state == "pending":
            engine.clock.value = _delivery(runtime, event_id).next_attempt_at
            engine.run_due()
        count = len(hook.received)
    failed = _delivery(runtime, event_id)
    assert (failed.state, failed.last_status_code, failed.next_attempt_at) == ("failed", 500, None)
    assert failed.attempts == count == DEFAULT.max_attempts
    # The waits doubled from 5 s up to an hour: the last attempt came within a day of the event.
    assert 20 * 3600 < engine.clock.now() - started <= DEFAULT.give_up_after
    # Given up means given up: nothing more is sent.
    engine.clock.value += 7200
    engine.run_due()
    assert len(hook.received) == count


def test_the_policy_gives_up_after_a_day_whatever_the_attempts() -> None:
    policy = DeliveryPolicy(max_attempts=1000)
    assert not policy.gives_up(30, 86399.0)
    assert policy.gives_up(30, 86400.0)
    assert [DEFAULT.base_delay(n) for n in (1, 2, 3, 10, 11, 30)] == [5, 10, 20, 2560, 3600, 3600]
    spread = {round(DEFAULT.delay(f"d{n}", 3), 3) for n in range(20)}
    assert len(spread) > 10 and all(16 <= d <= 24 for d in spread)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_dead_target_does_not_hold_up_another(runtime: Runtime) -> None:
    engine = Engine(runtime)
    with receiver() as hook:
        dead = _target(runtime, f"http://127.0.0.1:{_closed_port()}/hook")
        alive = _target(runtime, hook.url)
        _event(runtime, name="a")
        _event(runtime, name="b")
        engine.run_due()
        assert sorted(e["detail"]["name"] for e in hook.events()) == ["a", "b"]
    by_target: dict[str, list[Any]] = {}
    for row in deliveries(runtime):
        by_target.setdefault(row.target_id, []).append(row)
    assert [row.state for row in by_target[alive]] == ["delivered", "delivered"]
    assert [(row.state, row.attempts, row.last_status_code) for row in by_target[dead]] == [
        ("pending", 1, None),
        ("pending", 1, None),
    ]
    assert all("Connection" in row.last_error or "refused" in row.last_error for row in by_target[dead])


def test_an_event_never_crosses_accounts(runtime: Runtime) -> None:
    engine = Engine(runtime)
    with receiver() as mine, receiver() as theirs:
        _target(runtime, mine.url, ACCOUNT)
        _target(runtime, theirs.url, OTHER_ACCOUNT)
        _event(runtime, ACCOUNT, "mine")
        _event(runtime, OTHER_ACCOUNT, "theirs")
        _event(runtime, ACCOUNT, "mine-too")
        engine.run_due()
        assert sorted(e["detail"]["name"] for e in mine.events()) == ["mine", "mine-too"]
        assert {e["account"] for e in mine.events()} == {ACCOUNT}
        assert [e["detail"]["name"] for e in theirs.events()] == ["theirs"]
        assert {e["account"] for e in theirs.events()} == {OTHER_ACCOUNT}


def test_targets_see_only_events_after_them_and_go_with_their_deliveries(runtime: Runtime) -> None:
    engine = Engine(runtime)
    with receiver() as hook:
        hook.answers[:] = [500]
        before = _event(runtime, name="before")
        target = _target(runtime, hook.url)
        _event(runtime, name="after")
        engine.run_due()
        assert [e["detail"]["name"] for e in hook.events()] == ["after"]
        assert [row.event_id for row in deliveries(runtime)] != [before]
        with runtime.database.write() as connection:
            assert targets.delete(connection, target)
            assert not targets.delete(connection, target)
        assert deliveries(runtime) == []
        # The pending retry's job ends without sending.
        engine.clock.value += 3600
        engine.run_due()
        assert len(hook.received) == 1


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/hook", "file:///etc/passwd", "http:///no-host", "http://169.254.169.254/latest"],
)
def test_bad_urls_are_refused(runtime: Runtime, url: str) -> None:
    with runtime.database.write() as connection, pytest.raises(targets.TargetProblem):
        targets.create(
            connection, runtime.secrets, target_id="t", account_id=ACCOUNT, url=url, secret=None, now=1.0
        )
    with runtime.database.read() as connection:
        assert targets.list_targets(connection) == []


def test_a_link_local_target_is_refused_at_delivery_unless_allowed(runtime: Runtime) -> None:
    engine = Engine(runtime)
    with runtime.database.write() as connection:
        allowed = targets.create(
            connection,
            runtime.secrets,
            target_id="allowed",
            # Of another account: nothing is ever sent to the metadata address from a test.
            account_id=OTHER_ACCOUNT,
            url="http://169.254.169.254:9/latest",
            secret=None,
            now=engine.clock.now(),
            allow_link_local=True,
        )
        connection.execute(
            sa.insert(targets.event_targets).values(
                id="sneaked",
                account_id=ACCOUNT,
                url="http://169.254.169.254/latest",
                secret_ciphertext=None,
                allow_link_local=False,
                created_at=engine.clock.now(),
            )
        )
    assert allowed.allow_link_local
    event_id = _event(runtime)
    engine.run_due()
    rows = {row.target_id: row for row in deliveries(runtime) if row.event_id == event_id}
    assert rows["sneaked"].state == "failed"
    assert "link-local" in rows["sneaked"].last_error
    assert rows["sneaked"].attempts == 1


def test_an_answer_that_is_not_http_is_a_failed_attempt(runtime: Runtime) -> None:
    import threading

    engine = Engine(runtime)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def answer_garbage() -> None:
            peer, _ = server.accept()
            with peer:
                peer.recv(65536)
                peer.sendall(b"this is not HTTP\r\n\r\n")

        thread = threading.Thread(target=answer_garbage, daemon=True)
        thread.start()
        _target(runtime, f"http://127.0.0.1:{port}/hook")
        event_id = _event(runtime)
        engine.run_due()
        thread.join(30)
    failed = _delivery(runtime, event_id)
    assert (failed.state, failed.attempts, failed.last_status_code) == ("pending", 1, None)
    assert failed.last_error
