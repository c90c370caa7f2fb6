"""Adoption tests start, as API tests do, with no live stacks in the local cloud."""

from __future__ import annotations

from tests.api.conftest import cloudformation_of_account, empty_cloud

__all__ = ["cloudformation_of_account", "empty_cloud"]
