"""The content-addressed adapter store: ``<data_dir>/adapters/<sha256>/`` holding an adapter's files.

The SHA-256 is over a manifest of the kept files (``name\\0sha256-of-file\\n`` lines, sorted by
name), so the same adapter uploaded twice is stored once. Uploads are unpacked into
``.staging/<random>/`` and become visible only through one ``rename``; an interrupted upload
leaves a staging folder that the next start (or the next upload's sweep) removes.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_CHUNK = 1024 * 1024


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_sha256(folder: Path, names: tuple[str, ...]) -> str:
    """The adapter's content address: SHA-256 of its files' names and SHA-256s."""
    lines = "".join(f"{name}\0{file_sha256(folder / name)}\n" for name in sorted(names))
    return hashlib.sha256(lines.encode()).hexdigest()


class AdapterStore:
    """Adapters on disk, one folder per content hash."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.staging_root = self.root / ".staging"

    def path(self, sha256: str) -> Path:
        return self.root / sha256

    def sweep(self) -> None:
        """Remove what interrupted uploads left behind."""
        shutil.rmtree(self.staging_root, ignore_errors=True)

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A private empty folder, removed when the block ends (whatever happened in it)."""
        self.staging_root.mkdir(parents=True, exist_ok=True)
        folder = self.staging_root / secrets.token_hex(8)
        folder.mkdir()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def commit(self, folder: Path, names: tuple[str, ...]) -> tuple[str, int, bool]:
        """Move the files ``names`` of ``folder`` into the store; return their content hash, total size
        and whether this call created the entry (``False``: the same content was already stored)."""
        sha256 = manifest_sha256(folder, names)
        size = sum((folder / name).stat().st_size for name in names)
        target = self.path(sha256)
        if target.is_dir():
            return sha256, size, False
        self.staging_root.mkdir(parents=True, exist_ok=True)
        ready = self.staging_root / f"{sha256}.{secrets.token_hex(4)}"
        ready.mkdir()
        try:
            for name in names:
                os.replace(folder / name, ready / name)
                with (ready / name).open("rb") as handle:
                    os.fsync(handle.fileno())
            try:
                os.rename(ready, target)
            except OSError:
                if not target.is_dir():
                    raise
                return sha256, size, False
        finally:
            shutil.rmtree(ready, ignore_errors=True)
        return sha256, size, True

    def remove(self, sha256: str) -> None:
        shutil.rmtree(self.path(sha256), ignore_errors=True)
