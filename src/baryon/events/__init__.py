"""Status-change events in Amazon EventBridge's `aws.proton` format (reference §5.10), kept in an outbox
and delivered to per-account webhook targets.

Modules: `format` builds the event documents (pure); `outbox` writes an event, with one delivery and one
delivery job per target of its account, in the caller's transaction (callable from the store, the
deployables, the engine and the API: wherever a status changes); `targets` keeps the webhook targets;
`delivery` is the engine job that sends one delivery (signed, retried with backoff, at least once).

Invariants: this package imports nothing above the store, except `delivery`, which the engine's worker
runs; an event is only ever delivered to targets of its own account.
"""
