"""The engine: durable jobs in the database, leased by workers, advanced by idempotent steps."""
