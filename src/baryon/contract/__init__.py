"""The Proton API contract, read from botocore's service model (the single source of truth)."""
