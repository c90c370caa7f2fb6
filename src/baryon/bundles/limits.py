"""Size and count limits applied to template bundles.

The defaults are AWS Proton's published, non-adjustable quotas (bundle 5 MB, manifest 50 KB,
schema 50 KB, any other file 200 KB, 10 template files) plus two guards Proton does not document:
the total number of bytes an archive may unpack to and the number of entries it may hold.

Invariants: `Limits` is immutable; sizes are bytes with 1 KB = 1024 bytes and 1 MB = 1024 KB,
and `describe_size` renders them the same way in every message.
"""

from __future__ import annotations

from dataclasses import dataclass

_KB = 1024
_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Limits a bundle must respect; every field is a byte size or a count."""

    bundle_bytes: int = 5 * _MB  # the compressed archive
    manifest_bytes: int = 50 * _KB
    schema_bytes: int = 50 * _KB
    file_bytes: int = 200 * _KB  # any other file
    template_files: int = 10  # IaC files referenced by manifests
    total_unpacked_bytes: int = 64 * _MB  # decompression-bomb guard
    members: int = 2000

    @property
    def largest_file_bytes(self) -> int:
        """The largest size any single file may have, whatever its role in the bundle."""
        return max(self.manifest_bytes, self.schema_bytes, self.file_bytes)


def describe_size(size: int) -> str:
    """Render a byte limit for a message, e.g. ``50 KB (51200 bytes)`` or ``1000 bytes``."""
    if size >= _MB and size % _MB == 0:
        return f"{size // _MB} MB ({size} bytes)"
    if size >= _KB and size % _KB == 0:
        return f"{size // _KB} KB ({size} bytes)"
    return f"{size} bytes"
