"""Adoption tests start, as API tests do, with no live stacks in the local cloud (of the test account
and, for the tests that use `other_cfn`, of the second account)."""

from __future__ import annotations

from tests.api.conftest import cloudformation_of_account, empty_cloud
from tests.support.proton_stacks import cfn, other_cfn, templates

__all__ = ["cfn", "cloudformation_of_account", "empty_cloud", "other_cfn", "templates"]
