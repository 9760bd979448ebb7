"""Unpacking an upload safely: a .zip, a .tar(.gz), or loose files from a folder upload.

Every entry is checked before a byte of it is written: no absolute paths, no ``..``, no
symbolic or hard links, devices or other special files; at most ``max_files`` entries and
``max_unpacked_bytes`` in all, counted on the bytes actually written (an archive's declared
sizes are not trusted). Only the files of the folder that holds ``adapter_config.json`` are kept.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from gateway.errors import InvalidRequest, PayloadTooLarge

_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    max_files: int
    max_unpacked_bytes: int


class _Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.files = 0
        self.bytes = 0

    def count_file(self) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise InvalidRequest(
                f"the upload has more than {self.limits.max_files} files", param="file", code="too_many_files"
            )

    def count_bytes(self, n: int) -> None:
        self.bytes += n
        if self.bytes > self.limits.max_unpacked_bytes:
            raise PayloadTooLarge(
                f"the upload unpacks to more than {self.limits.max_unpacked_bytes} bytes", param="file"
            )


def safe_relative(name: str) -> PurePosixPath:
    """``name`` as a relative path inside the upload, or ``InvalidRequest`` for traversal and absolute paths."""
    cleaned = name.replace("\\", "/")
    path = PurePosixPath(cleaned)
    if not cleaned or cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise InvalidRequest(f"archive entry {name!r} has an absolute path", param="file", code="unsafe_archive")
    if any(part == ".." for part in path.parts):
        raise InvalidRequest(
            f"archive entry {name!r} leaves the upload folder (..)", param="file", code="unsafe_archive"
        )
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts or "\x00" in cleaned:
        raise InvalidRequest(f"archive entry {name!r} has no usable name", param="file", code="unsafe_archive")
    return PurePosixPath(*parts)


def _copy(source: BinaryIO, target: Path, budget: _Budget) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("xb") as out:
        while chunk := source.read(_CHUNK):
            budget.count_bytes(len(chunk))
            out.write(chunk)


def unpack(upload: Path, filename: str, dest: Path, limits: Limits) -> None:
    """Unpack the archive ``upload`` (``filename`` says its kind when its bytes do not) into ``dest``."""
    budget = _Budget(limits)
    if zipfile.is_zipfile(upload):
        _unzip(upload, dest, budget)
        return
    try:
        archive = tarfile.open(upload, mode="r:*")
    except (tarfile.TarError, OSError):
        raise InvalidRequest(
            f"{filename or 'the upload'} is not a .zip, .tar or .tar.gz archive",
            param="file",
            code="unsupported_archive",
        ) from None
    with archive:
        _untar(archive, dest, budget)


def _unzip(upload: Path, dest: Path, budget: _Budget) -> None:
    try:
        archive = zipfile.ZipFile(upload)
    except zipfile.BadZipFile as exc:
        raise InvalidRequest(f"the zip archive is damaged: {exc}", param="file", code="unsupported_archive") from None
    with archive:
        entries = archive.infolist()
        for info in entries:
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise InvalidRequest(
                    f"archive entry {info.filename!r} is a symbolic link", param="file", code="unsafe_archive"
                )
            if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise InvalidRequest(
                    f"archive entry {info.filename!r} is not a regular file", param="file", code="unsafe_archive"
                )
            safe_relative(info.filename)
            if info.flag_bits & 0x1:
                raise InvalidRequest(
                    f"archive entry {info.filename!r} is encrypted", param="file", code="unsafe_archive"
                )
        for info in entries:
            relative = safe_relative(info.filename)
            if info.is_dir():
                continue
            budget.count_file()
            try:
                with archive.open(info) as source:
                    _copy(source, dest / relative, budget)
            except FileExistsError:
                raise InvalidRequest(f"archive entry {info.filename!r} appears twice", param="file") from None
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise InvalidRequest(
                    f"the zip archive is damaged: {exc}", param="file", code="unsupported_archive"
                ) from None


def _untar(archive: tarfile.TarFile, dest: Path, budget: _Budget) -> None:
    try:
        for member in archive:
            relative = safe_relative(member.name)
            if member.issym() or member.islnk():
                raise InvalidRequest(f"archive entry {member.name!r} is a link", param="file", code="unsafe_archive")
            if member.isdir():
                continue
            if not member.isreg():
                raise InvalidRequest(
                    f"archive entry {member.name!r} is not a regular file", param="file", code="unsafe_archive"
                )
            budget.count_file()
            if budget.bytes + member.size > budget.limits.max_unpacked_bytes:
                budget.count_bytes(member.size)
            source = archive.extractfile(member)
            if source is None:
                continue
            try:
                _copy(source, dest / relative, budget)
            except FileExistsError:
                raise InvalidRequest(f"archive entry {member.name!r} appears twice", param="file") from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidRequest(f"the tar archive is damaged: {exc}", param="file", code="unsupported_archive") from None


def write_files(files: Iterable[tuple[str, BinaryIO]], dest: Path, limits: Limits) -> None:
    """Write the loose files of a folder upload (each name checked like an archive entry)."""
    budget = _Budget(limits)
    for name, source in files:
        relative = safe_relative(name)
        budget.count_file()
        try:
            _copy(source, dest / relative, budget)
        except FileExistsError:
            raise InvalidRequest(f"file {name!r} was uploaded twice", param="file") from None


def adapter_folder(root: Path) -> Path:
    """The one folder under ``root`` that holds ``adapter_config.json``."""
    found = [p.parent for p in root.rglob("adapter_config.json") if p.is_file()]
    if not found:
        pickled = sorted(p.name for p in root.rglob("*.bin"))
        if pickled:
            raise InvalidRequest(
                f"{pickled[0]} is pickled weights, which are never loaded; upload adapter_config.json with safetensors",
                param="file",
            )
        raise InvalidRequest("the upload has no adapter_config.json", param="file")
    if len(found) > 1:
        raise InvalidRequest("the upload holds more than one adapter_config.json; upload one adapter", param="file")
    return found[0]


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
