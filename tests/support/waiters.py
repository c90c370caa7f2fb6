"""Waiter settings for boto3 Proton waiters in tests.

botocore's Proton waiters poll every 5 to 30 seconds; against a local server and a worker that polls every
50 ms that is mostly idle time. The settings here poll ten times a second and give up after the stated time,
so a waiter that fails does so with botocore's own `WaiterError` naming the waiter and the last status.
"""

from __future__ import annotations

from typing import Any

#: Seconds between two polls of a waiter.
DELAY = 0.1


def within(seconds: float) -> dict[str, Any]:
    """A `WaiterConfig` that polls every `DELAY` seconds for at most `seconds`."""
    return {"Delay": DELAY, "MaxAttempts": max(1, round(seconds / DELAY))}


#: For registrations and deployments that finish in seconds.
FAST = within(60)
#: For deployments with several steps (a service with instances and a pipeline, a rollback).
PATIENT = within(180)
