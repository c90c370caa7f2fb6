"""The engine: durable jobs in the database, leased by workers, advanced by idempotent steps.

Handlers use only `control` (cancel and notify of deployments in flight); the worker loop (`worker`), the
job steps (`registration`, `deploy`) and the provisioners (`provisioners`) are the engine's own.
"""
