"""The kinds of job the engine runs and the retry policy each is enqueued with.

Invariants: a job kind names exactly one handler in the engine's worker; the policies are values stored
with each job when it is enqueued (a later change of a policy does not touch jobs already queued).
"""

from __future__ import annotations

from baryon.domain.outcomes import RetryPolicy

#: A deployment of an environment, service instance, service pipeline or component (`payload.deployment_id`).
DEPLOY = "deploy"
#: The registration of a template version (`payload.version_id`).
REGISTER_TEMPLATE_VERSION = "register-template-version"

DEPLOY_POLICY = RetryPolicy(max_attempts=10, initial_delay=2.0, multiplier=2.0, max_delay=60.0)
REGISTRATION_POLICY = RetryPolicy(max_attempts=5, initial_delay=2.0, multiplier=2.0, max_delay=30.0)

#: The follower's look at one followed git branch (`payload`: account_id, region, provider, repository,
#: branch); one job per branch, with an id derived from the branch, that waits between looks.
SYNC_POLL = "sync-poll"
SYNC_POLL_POLICY = RetryPolicy(max_attempts=1000, initial_delay=5.0, multiplier=2.0, max_delay=300.0)

#: The delivery of one status-change event to one webhook target (`payload.delivery_id`). The delivery
#: keeps its own attempts and backoff (`baryon.events.delivery`); this policy only covers a step that
#: raised.
DELIVER_EVENT = "deliver-event"
DELIVER_EVENT_POLICY = RetryPolicy(max_attempts=20, initial_delay=5.0, multiplier=2.0, max_delay=3600.0)
