"""The one error type of template-bundle validation.

Invariants: every problem found in a bundle surfaces as `BundleError`; its text is complete and
self-contained (it names the file, the key or member at fault and, where one applies, the limit),
because the registration job stores it unchanged as the template version's `statusMessage`.
"""

from __future__ import annotations


class BundleError(Exception):
    """A bundle is unusable; str(e) is the complete message shown to the template author as statusMessage."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
