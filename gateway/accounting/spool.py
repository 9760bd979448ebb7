"""A durable local spool: usage records are appended here before a response completes.

Each process owns a folder ``<root>/<pid>-<random>/`` holding a lock file (``flock``ed for the
process's life) and numbered JSON-lines segments. A record is one ``write(2)`` of one line to a
file opened with ``O_APPEND``: once ``append`` returns, the record survives the process being
killed (it is in the operating system's page cache); with ``fsync`` on, it also survives the
machine losing power. Closed segments are flushed to the database and deleted; a folder whose
lock nobody holds belonged to a dead process and is replayed by the next one that starts.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import msgspec

log = logging.getLogger("gateway.spool")

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_LOCK = "owner.lock"


class Spool:
    """Appends records to the current segment; hands closed segments to the flusher."""

    def __init__(self, root: Path, fsync: bool = False) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.folder = self.root / f"{os.getpid()}-{secrets.token_hex(4)}"
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._segment = 0
        self._written = False
        self._orphan_locks: dict[Path, int] = {}

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.folder / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._next_segment()

    def _segment_path(self, number: int) -> Path:
        return self.folder / f"{number:08d}.jsonl"

    def _next_segment(self) -> None:
        self._segment += 1
        self._fd = os.open(self._segment_path(self._segment), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        self._written = False

    def append(self, record: dict[str, Any]) -> None:
        """Write one record; durable against a process kill once this returns."""
        os.write(self._fd, _encode(record) + b"\n")
        if self.fsync:
            os.fsync(self._fd)
        self._written = True

    def rotate(self) -> list[Path]:
        """Close the current segment if it has records and return every closed segment, oldest first."""
        if self._written:
            os.close(self._fd)
            self._next_segment()
        current = self._segment_path(self._segment)
        return sorted(p for p in self.folder.glob("*.jsonl") if p != current)

    def orphans(self) -> list[Path]:
        """Folders left by processes that died; each returned locked by this process."""
        found = []
        for folder in sorted(self.root.iterdir()) if self.root.exists() else ():
            if folder == self.folder or not folder.is_dir():
                continue
            fd = os.open(folder / _LOCK, os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._orphan_locks[folder] = fd
            found.append(folder)
        return found

    @staticmethod
    def read(segment: Path) -> list[dict[str, Any]]:
        """The records in a segment; a torn last line (the process died mid-write) is skipped."""
        records = []
        for line in segment.read_bytes().splitlines():
            try:
                records.append(_decode(line))
            except msgspec.DecodeError:
                log.warning("spool: skipped a torn record", extra={"segment": segment.name})
        return records

    def remove_orphan(self, folder: Path) -> None:
        """Delete a replayed orphan folder and let go of its lock."""
        shutil.rmtree(folder, ignore_errors=True)
        fd = self._orphan_locks.pop(folder, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._lock_fd = None
