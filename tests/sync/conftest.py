"""Sync tests deploy into the local cloud as the API tests do, so they start with no live stacks."""

from __future__ import annotations

from tests.api.conftest import cloudformation_of_account, empty_cloud

__all__ = ["cloudformation_of_account", "empty_cloud"]
