"""Syncing from git: template sync and service sync (Proton's §6)."""
