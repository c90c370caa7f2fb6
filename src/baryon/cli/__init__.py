"""The `baryon` command."""
