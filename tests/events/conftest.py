"""Event tests drive the API against the local cloud, so they start, as the API tests do, with no live
stacks in it."""

from __future__ import annotations

from tests.api.conftest import cloudformation_of_account, empty_cloud

__all__ = ["cloudformation_of_account", "empty_cloud"]
