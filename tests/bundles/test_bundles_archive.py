"""Hostile, corrupt and oversized archives: every one is refused and nothing touches the filesystem."""

from __future__ import annotations

import gzip
import io
import os
import random
import tarfile
import tempfile
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baryon.bundles import BundleError, Limits, load_bundle
from tests.bundles.bundlekit import (
    CFN_MANIFEST,
    CFN_TEMPLATE,
    ENV_SCHEMA,
    bundle,
    cfn_environment,
    encoded,
    targz,
)

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in an empty working folder with a private temp folder; both must stay empty."""
    work = tmp_path / "work"
    temp = tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("tarfile must never extract to disk")

    monkeypatch.setattr(tarfile.TarFile, "extract", refuse)
    monkeypatch.setattr(tarfile.TarFile, "extractall", refuse)
    yield work
    assert sorted(os.listdir(tmp_path)) == ["tmp", "work"]
    assert os.listdir(work) == []
    assert os.listdir(temp) == []


def rejected(archive: bytes, **options: Any) -> str:
    options.setdefault("kind", "ENVIRONMENT")
    with pytest.raises(BundleError) as caught:
        load_bundle(archive, **options)
    return str(caught.value)


def member(name: str, kind: bytes, **fields: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def with_bundle(*extra: Any) -> bytes:
    entries: list[Any] = encoded(cfn_environment())
    return targz([*entries, *extra])


# --- paths and member types ------------------------------------------------------------------------


def test_absolute_path_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "abs-sentinel"
    message = rejected(with_bundle((str(target), b"owned")))
    assert message == (
        f"Template bundle member '{target}' has an absolute path; paths must be relative to the archive root"
    )
    assert not target.exists()


@pytest.mark.parametrize("name", ["../sentinel", "schema/../../sentinel", "./a/../../sentinel"])
def test_parent_components_are_refused(name: str, tmp_path: Path) -> None:
    assert rejected(with_bundle((name, b"owned"))) == (
        f"Template bundle member '{name}' has a '..' path component; paths must stay inside the archive"
    )
    assert not (tmp_path / "sentinel").exists()


def test_dot_dot_inside_a_folder_name_that_stays_inside_is_still_refused() -> None:
    assert "'..' path component" in rejected(with_bundle(("infrastructure/../schema/x", b"x")))


def test_backslash_paths_are_refused() -> None:
    assert rejected(with_bundle(("..\\..\\sentinel", b"x"))) == (
        "Template bundle member '..\\..\\sentinel' has a backslash in its path; use '/' to separate folders"
    )


@pytest.mark.parametrize(
    ("info", "what"),
    [
        (member("infrastructure/link.yaml", tarfile.SYMTYPE, linkname="/etc/passwd"), "a symbolic link"),
        (member("infrastructure/hard.yaml", tarfile.LNKTYPE, linkname="schema/schema.yaml"), "a hard link"),
        (member("infrastructure/tty", tarfile.CHRTYPE, devmajor=5, devminor=0), "a character device"),
        (member("infrastructure/disk", tarfile.BLKTYPE, devmajor=8, devminor=0), "a block device"),
        (member("infrastructure/pipe", tarfile.FIFOTYPE), "a FIFO (named pipe)"),
        (member("infrastructure/odd", b"Z"), "of unsupported tar type b'Z'"),
    ],
)
def test_non_regular_members_are_refused(info: tarfile.TarInfo, what: str) -> None:
    assert rejected(with_bundle(info)) == (
        f"Template bundle member '{info.name}' is {what}; only regular files and folders are allowed"
    )


def test_symlink_to_a_folder_outside_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    link = member("infrastructure", tarfile.SYMTYPE, linkname=str(tmp_path))
    archive = targz(
        [link, ("infrastructure/sentinel", b"owned"), ("schema/schema.yaml", ENV_SCHEMA.encode())]
    )
    assert "is a symbolic link" in rejected(archive)
    assert not (tmp_path / "sentinel").exists()


def test_links_inside_macos_junk_are_refused_too() -> None:
    link = member("__MACOSX/evil", tarfile.SYMTYPE, linkname="/etc/shadow")
    assert "Template bundle member '__MACOSX/evil' is a symbolic link" in rejected(with_bundle(link))


def test_sparse_files_are_refused() -> None:
    sparse = tarfile.TarInfo("infrastructure/sparse.bin")
    sparse.pax_headers = {
        "GNU.sparse.map": "0,4",
        "GNU.sparse.size": "1048576",
        "GNU.sparse.name": sparse.name,
    }
    assert rejected(with_bundle((sparse, b"data"))) == (
        "Template bundle member 'infrastructure/sparse.bin' is a sparse file; "
        "only regular files and folders are allowed"
    )


def test_names_that_are_not_utf8_are_refused() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT, encoding="latin-1") as tar:
        info = tarfile.TarInfo("schema/caf\xe9.txt")
        tar.addfile(info, io.BytesIO(b""))
    assert rejected(buffer.getvalue()) == (
        "Template bundle member 'schema/caf\\udce9.txt' has a name that is not valid UTF-8"
    )


def test_duplicate_members_are_refused() -> None:
    archive = with_bundle(("schema/schema.yaml", b"schema: {}"))
    assert rejected(archive) == (
        "Template bundle member 'schema/schema.yaml' appears more than once in the archive"
    )


def test_a_path_that_is_both_file_and_folder_is_refused() -> None:
    folder = member("infrastructure/cloudformation.yaml", tarfile.DIRTYPE, mode=0o755)
    assert rejected(with_bundle(folder)) == (
        "Template bundle member 'infrastructure/cloudformation.yaml' is both a file and a folder"
    )
    nested = with_bundle(("infrastructure/cloudformation.yaml/inner", b"x"))
    assert rejected(nested) == (
        "Template bundle member 'infrastructure/cloudformation.yaml' is both a file and a folder"
    )


# --- decompression bombs and counts ----------------------------------------------------------------


class Zeros(io.RawIOBase):
    """An endless-looking stream of zero bytes that never sits in memory at once."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        view[:] = bytes(len(view))
        return len(view)


def zero_member_archive(name: str, size: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as tar:
        for path, data in encoded(cfn_environment()):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo(name)
        info.size = size
        tar.addfile(info, io.BufferedReader(Zeros()))
    return buffer.getvalue()


def test_gzip_bomb_of_100_mb_of_zeros_is_stopped() -> None:
    archive = zero_member_archive("infrastructure/zeros.bin", 100 * MB)
    assert len(archive) < 1 * MB
    tracemalloc.start()
    try:
        message = rejected(archive)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == (
        "Template bundle unpacks to more than 64 MB (67108864 bytes), the limit for unpacked contents"
    )
    assert peak < 8 * MB  # streamed and counted, never held in memory


def test_bomb_hidden_in_macos_junk_is_stopped_as_well() -> None:
    archive = zero_member_archive("__MACOSX/._zeros", 100 * MB)
    assert rejected(archive).startswith("Template bundle unpacks to more than 64 MB")


def test_bomb_after_the_end_of_the_tar_is_stopped() -> None:
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as writer:
        for path, data in encoded(cfn_environment()):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            writer.addfile(info, io.BytesIO(data))
    compressor = gzip.GzipFile(fileobj=(out := io.BytesIO()), mode="wb", compresslevel=9)
    compressor.write(tar.getvalue())
    chunk = bytes(MB)
    for _ in range(80):
        compressor.write(chunk)
    compressor.close()
    assert rejected(out.getvalue()).startswith("Template bundle unpacks to more than 64 MB")


def test_unpacked_limit_counts_decompressed_bytes_not_header_sizes() -> None:
    # Five 300 KB files: each passes no per-file check, but together they exceed a 1 MB budget.
    extra = [(f"infrastructure/part{i}.bin", bytes(300 * 1024)) for i in range(5)]
    limits = Limits(total_unpacked_bytes=MB, file_bytes=400 * 1024)
    assert rejected(with_bundle(*extra), limits=limits) == (
        "Template bundle unpacks to more than 1 MB (1048576 bytes), the limit for unpacked contents"
    )


def test_header_claiming_a_huge_size_does_not_allocate_it() -> None:
    info = tarfile.TarInfo("infrastructure/huge.bin")
    info.size = 64 * 1024 * 1024 * MB  # 64 TB, written in GNU base-256 notation
    raw = info.tobuf(format=tarfile.GNU_FORMAT) + b"only a few bytes"
    message = rejected(gzip.compress(raw))
    assert message.startswith(
        "Template bundle is not a valid .tar.gz archive: the data is corrupt or truncated"
    )


def test_too_many_members() -> None:
    entries = [(f"infrastructure/f{i}.txt", b"") for i in range(2001)]
    assert rejected(targz(entries)) == (
        "Template bundle has more than 2000 entries (files and folders), the limit for one bundle"
    )


def test_member_limit_counts_folders_and_junk() -> None:
    folders = [member(f"d{i}", tarfile.DIRTYPE, mode=0o755) for i in range(3)]
    junk = [("__MACOSX/._a", b""), (".DS_Store", b"")]
    archive = with_bundle(*folders, *junk)
    assert load_bundle(archive, kind="ENVIRONMENT", limits=Limits(members=8)).parts
    assert rejected(archive, limits=Limits(members=7)).startswith("Template bundle has more than 7 entries")


def test_oversize_archive_is_refused_before_decompression() -> None:
    noise = random.Random(7).randbytes(6 * MB)
    archive = bundle(cfn_environment(**{"infrastructure/noise.bin": noise}))
    assert len(archive) > 5 * MB
    assert rejected(archive) == (
        "Template bundle archive is larger than 5 MB (5242880 bytes), the limit for a compressed bundle"
    )


def test_archive_exactly_at_the_limit_passes_the_size_check() -> None:
    archive = bundle(cfn_environment())
    info = load_bundle(archive, kind="ENVIRONMENT", limits=Limits(bundle_bytes=len(archive)))
    assert info.parts["infrastructure"]["files"] == ["cloudformation.yaml"]
    assert rejected(archive, limits=Limits(bundle_bytes=len(archive) - 1)).startswith(
        "Template bundle archive is larger than"
    )


# --- not a .tar.gz / corrupt -----------------------------------------------------------------------


def plain_tar() -> bytes:
    return gzip.decompress(bundle(cfn_environment()))


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema/schema.yaml", ENV_SCHEMA)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        (b"", " (it is empty)"),
        (b"hello", ""),
        (plain_tar(), " (it looks like an uncompressed tar archive)"),
        (zip_archive(), " (it looks like a zip archive)"),
        (b"BZh91AY&SY", " (it looks like a bzip2-compressed file)"),
    ],
)
def test_not_gzip(data: bytes, hint: str) -> None:
    assert rejected(data) == f"Template bundle is not a gzip-compressed tar archive (.tar.gz){hint}"


def test_gzip_of_something_that_is_not_a_tar() -> None:
    assert rejected(gzip.compress(ENV_SCHEMA.encode())) == (
        "Template bundle is not a valid .tar.gz archive: the decompressed data is not a tar archive"
    )


def test_truncated_archive() -> None:
    archive = bundle(cfn_environment())
    assert rejected(archive[: len(archive) // 2]).startswith(
        "Template bundle is not a valid .tar.gz archive: the data is corrupt or truncated ("
    )


def test_corrupted_checksum_is_detected() -> None:
    archive = bytearray(bundle(cfn_environment()))
    archive[-6] ^= 0xFF  # inside the CRC-32 of the gzip trailer
    assert rejected(bytes(archive)).startswith(
        "Template bundle is not a valid .tar.gz archive: the data is corrupt or truncated (CRC check failed"
    )


def test_garbage_header_in_the_middle_is_not_read_as_the_end() -> None:
    tar = bytearray(plain_tar())
    first = tarfile.TarInfo("schema/schema.yaml")
    first.size = len(ENV_SCHEMA.encode())
    offset = 512 + ((first.size + 511) // 512) * 512  # the second member's header
    tar[offset : offset + 512] = b"\x01" * 512
    assert rejected(gzip.compress(bytes(tar))) == (
        f"Template bundle is not a valid .tar.gz archive: unreadable tar data at offset {offset}"
    )


def test_data_after_the_end_of_the_archive_is_refused() -> None:
    tar = plain_tar() + bytes(200 * 1024) + b"trailing garbage"
    assert rejected(gzip.compress(tar)) == (
        "Template bundle is not a valid .tar.gz archive: unexpected data after the end of the archive"
    )


def test_zero_padding_after_the_end_of_the_archive_is_fine() -> None:
    tar = plain_tar() + bytes(300 * 1024)
    assert load_bundle(gzip.compress(tar), kind="ENVIRONMENT").files["infrastructure/manifest.yaml"] == (
        CFN_MANIFEST.encode()
    )


def test_multi_member_gzip_is_read_as_one_stream() -> None:
    tar = plain_tar()
    half = len(tar) // 2
    archive = gzip.compress(tar[:half]) + gzip.compress(tar[half:])
    info = load_bundle(archive, kind="ENVIRONMENT")
    assert info.files["infrastructure/cloudformation.yaml"] == CFN_TEMPLATE.encode()
