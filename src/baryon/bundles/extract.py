"""Reading an untrusted ``.tar.gz`` template bundle into memory.

`read_archive` turns the bytes of an archive into the regular files and folders it holds. It never
extracts anything to disk: members are streamed out of `tarfile` (stream mode, one pass) straight
into memory, so a hostile archive has no filesystem to write into.

Invariants:
- The archive is checked against `Limits.bundle_bytes` before any decompression.
- Every member's path and type are validated before any of its data is read. Absolute paths,
  ``..`` components, backslashes, names that are not UTF-8, symbolic and hard links, devices,
  FIFOs, sparse files and every other non-regular, non-directory type are refused, naming the
  member.
- Every byte the gzip stream inflates to is counted as it is produced (tar headers, padding, file
  data and data tarfile skips over alike); reading stops with `BundleError` as soon as the count
  passes `Limits.total_unpacked_bytes`. Sizes written in tar headers are never trusted: a file is
  read in bounded chunks and abandoned once it passes `Limits.largest_file_bytes`.
- The number of entries is capped by `Limits.members`.
- After the last member, the rest of the stream must be end-of-archive padding (zero bytes) and
  the gzip trailer must check out, so a truncated or corrupted archive is reported as such rather
  than read as a shorter bundle.
- Keys of `Archive.files` are normalised relative POSIX paths (no leading ``/``, no empty, ``.``
  or ``..`` component, no backslash) that appear once; no file path is also a folder path, so the
  keys can be joined safely under any directory. ``__MACOSX/`` trees and ``.DS_Store`` files are
  validated like everything else and then dropped.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from dataclasses import dataclass, field

from baryon.bundles.errors import BundleError
from baryon.bundles.limits import Limits, describe_size

_CHUNK = 64 * 1024
_TAIL = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Archive:
    """What an archive holds, keyed by normalised path inside the archive."""

    files: dict[str, bytes] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    # Regular files larger than Limits.largest_file_bytes; their contents are not kept.
    oversize: set[str] = field(default_factory=set)


class _Inflated:
    """A read-only, forward-only view of the decompressed archive that counts what it produces.

    It keeps the most recent bytes it handed out so that the caller can check the end-of-archive
    padding tarfile has already buffered.
    """

    def __init__(self, archive: bytes, budget: int) -> None:
        self._gzip = gzip.GzipFile(fileobj=io.BytesIO(archive), mode="rb")
        self._budget = budget
        self.position = 0
        self._tail = bytearray()

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            size = _CHUNK
        data = self._gzip.read(size)
        self.position += len(data)
        if self.position > self._budget:
            raise BundleError(
                f"Template bundle unpacks to more than {describe_size(self._budget)}, "
                "the limit for unpacked contents"
            )
        self._tail += data
        if len(self._tail) > _TAIL:
            del self._tail[: len(self._tail) - _TAIL]
        return data

    def recent(self, start: int) -> bytes | None:
        """The bytes from absolute offset `start` to the current position, if still kept."""
        first = self.position - len(self._tail)
        if start < first:
            return None
        return bytes(self._tail[start - first :])

    def write(self, b: bytes, /) -> object:
        raise io.UnsupportedOperation("read-only")

    def tell(self) -> int:
        return self.position

    def seek(self, pos: int, /) -> object:
        raise io.UnsupportedOperation("not seekable")

    def close(self) -> object:
        self._gzip.close()
        return None


def _not_gzip_hint(archive: bytes) -> str:
    if archive.startswith(b"PK\x03\x04"):
        return " (it looks like a zip archive)"
    if archive[257:262] == b"ustar":
        return " (it looks like an uncompressed tar archive)"
    if archive.startswith(b"BZh"):
        return " (it looks like a bzip2-compressed file)"
    if archive.startswith(b"\xfd7zXZ\x00"):
        return " (it looks like an xz-compressed file)"
    if not archive:
        return " (it is empty)"
    return ""


def _member_label(name: str) -> str:
    return "'" + name.encode("utf-8", "backslashreplace").decode("utf-8") + "'"


def _normalise(name: str) -> str:
    """Validate a member name and return it without ``./`` prefixes or redundant slashes."""
    label = _member_label(name)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise BundleError(f"Template bundle member {label} has a name that is not valid UTF-8") from None
    if name.startswith("/"):
        raise BundleError(
            f"Template bundle member {label} has an absolute path; paths must be relative to the archive root"
        )
    if "\\" in name:
        raise BundleError(
            f"Template bundle member {label} has a backslash in its path; use '/' to separate folders"
        )
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise BundleError(
            f"Template bundle member {label} has a '..' path component; paths must stay inside the archive"
        )
    return "/".join(parts)


def _refuse_type(member: tarfile.TarInfo) -> None:
    label = _member_label(member.name)
    kind: str | None = None
    if member.issym():
        kind = "a symbolic link"
    elif member.islnk():
        kind = "a hard link"
    elif member.ischr():
        kind = "a character device"
    elif member.isblk():
        kind = "a block device"
    elif member.isfifo():
        kind = "a FIFO (named pipe)"
    elif member.isreg() and member.issparse():
        kind = "a sparse file"
    elif not (member.isreg() or member.isdir()):
        kind = f"of unsupported tar type {member.type!r}"
    if kind is not None:
        raise BundleError(
            f"Template bundle member {label} is {kind}; only regular files and folders are allowed"
        )


def _is_junk(path: str) -> bool:
    parts = path.split("/")
    return "__MACOSX" in parts or parts[-1] == ".DS_Store" or parts[-1].startswith("._")


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, cap: int) -> bytes | None:
    """Read a regular file's data, or return None once more than `cap` bytes have come out."""
    stream = tar.extractfile(member)
    if stream is None:  # pragma: no cover - regular members always have a data stream
        return b""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(_CHUNK, cap + 1 - size))
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)


def _add_parents(path: str, result: Archive) -> None:
    """Record every folder above `path`, refusing a folder that is already a file."""
    parts = path.split("/")
    for i in range(1, len(parts)):
        parent = "/".join(parts[:i])
        if parent in result.files or parent in result.oversize:
            raise BundleError(f"Template bundle member {_member_label(parent)} is both a file and a folder")
        result.dirs.add(parent)


def _collect(tar: tarfile.TarFile, limits: Limits, result: Archive) -> None:
    count = 0
    for member in tar:
        count += 1
        if count > limits.members:
            raise BundleError(
                f"Template bundle has more than {limits.members} entries (files and folders), "
                "the limit for one bundle"
            )
        path = _normalise(member.name)
        _refuse_type(member)
        if not path or _is_junk(path):
            continue
        label = _member_label(member.name)
        if member.isdir():
            if path in result.files or path in result.oversize:
                raise BundleError(f"Template bundle member {label} is both a file and a folder")
            result.dirs.add(path)
            _add_parents(path, result)
            continue
        if path in result.files or path in result.oversize:
            raise BundleError(f"Template bundle member {label} appears more than once in the archive")
        if path in result.dirs:
            raise BundleError(f"Template bundle member {label} is both a file and a folder")
        _add_parents(path, result)
        data = _read_member(tar, member, limits.largest_file_bytes)
        if data is None:
            result.oversize.add(path)
        else:
            result.files[path] = data


def _check_trailer(stream: _Inflated, end: int) -> None:
    """Require only zero bytes from the end-of-archive marker to the end of the gzip stream."""
    kept = stream.recent(end)
    if kept is not None and kept.strip(b"\0"):
        raise BundleError(
            f"Template bundle is not a valid .tar.gz archive: unreadable tar data at offset {end}"
        )
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return
        if chunk.strip(b"\0"):
            raise BundleError(
                "Template bundle is not a valid .tar.gz archive: unexpected data after the end of the archive"
            )


def read_archive(archive: bytes, limits: Limits) -> Archive:
    """Validate and read a ``.tar.gz`` archive held in memory; raise BundleError if it is unusable."""
    if len(archive) > limits.bundle_bytes:
        raise BundleError(
            f"Template bundle archive is larger than {describe_size(limits.bundle_bytes)}, "
            "the limit for a compressed bundle"
        )
    if not archive.startswith(_GZIP_MAGIC):
        raise BundleError(
            f"Template bundle is not a gzip-compressed tar archive (.tar.gz){_not_gzip_hint(archive)}"
        )
    result = Archive()
    stream = _Inflated(archive, limits.total_unpacked_bytes)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            _collect(tar, limits, result)
            end = tar.offset
        _check_trailer(stream, end)
    except BundleError:
        raise
    except tarfile.ReadError as exc:
        detail = str(exc)
        if detail in ("empty file", "invalid header", "bad checksum", "truncated header"):
            detail = "the decompressed data is not a tar archive"
        else:
            detail = f"the data is corrupt or truncated ({detail})"
        raise BundleError(f"Template bundle is not a valid .tar.gz archive: {detail}") from None
    except (tarfile.TarError, OSError, EOFError, ValueError, zlib.error) as exc:
        detail = str(exc) or type(exc).__name__
        raise BundleError(
            f"Template bundle is not a valid .tar.gz archive: the data is corrupt or truncated ({detail})"
        ) from None
    finally:
        stream.close()
    return result
