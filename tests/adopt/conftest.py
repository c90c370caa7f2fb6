"""Adoption tests start with no live stacks in the local cloud's accounts they read."""

from tests.support.proton_stacks import cfn, other_cfn, templates

__all__ = ["cfn", "other_cfn", "templates"]
