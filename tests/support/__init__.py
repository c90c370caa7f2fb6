"""Test support: processes, clients, bundles."""
