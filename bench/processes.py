"""The benchmark's process plumbing: ports, servers it starts and stops, CPU and memory of process trees.

Linux only (/proc). Used by bench/overhead.py; standard library only.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import resource
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- processes


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc/<pid>/task/*/children)."""
    seen, todo = [], [pid]
    while todo and len(seen) < 256:
        current = todo.pop()
        seen.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return seen


def machine_jiffies() -> tuple[int, int]:
    """(all, idle) CPU time of the whole machine, in clock ticks, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values[:8]), values[3] + (values[4] if len(values) > 4 else 0)


def machine_busy(seconds: float = 1.0) -> float:
    """Percent of all cores busy over ``seconds``: other work on the machine skews the figures."""
    total0, idle0 = machine_jiffies()
    time.sleep(seconds)
    total1, idle1 = machine_jiffies()
    return 100.0 * (1 - (idle1 - idle0) / max(1, total1 - total0))


def wait_quiet(name: str, limit: float, threshold: float = 15.0) -> float:
    """Wait (at most ``limit`` s) until the machine is under ``threshold``% busy; returns seconds waited."""
    started = time.monotonic()
    busy = machine_busy(0.5)
    while busy >= threshold and time.monotonic() - started < limit:
        busy = machine_busy(1.0)
    waited = time.monotonic() - started
    if busy >= threshold:
        log(f"{name}: machine still {busy:.0f}% busy after waiting {waited:.0f} s; measuring anyway")
    elif waited > 2:
        log(f"{name}: waited {waited:.0f} s for other work on the machine to finish")
    return waited


class Foreign:
    """CPU used on the machine during a block by processes that are not part of the benchmark.

    Machine busy time (/proc/stat) minus the server's and upstream's process trees, this
    process and its waited-for children (wrk, the stream client). ``pct`` is percent of one core.
    """

    def __init__(self, *pids: int) -> None:
        self.pids = pids
        self.pct = 0.0

    def _ours(self) -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (sum(tree_cpu_seconds(p) for p in self.pids) + own.ru_utime + own.ru_stime + kids.ru_utime
                + kids.ru_stime)

    def __enter__(self) -> Foreign:
        self._wall = time.monotonic()
        self._machine = machine_jiffies()
        self._ours0 = self._ours()
        return self

    def __exit__(self, *exc: object) -> None:
        total, idle = machine_jiffies()
        busy = ((total - self._machine[0]) - (idle - self._machine[1])) / CLK_TCK
        wall = max(1e-6, time.monotonic() - self._wall)
        self.pct = max(0.0, 100.0 * (busy - (self._ours() - self._ours0)) / wall)


def tree_rss_mb(pid: int) -> float:
    total = 0
    for p in tree_pids(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
    return total / 1e6


def tree_cpu_seconds(pid: int) -> float:
    total = 0
    for p in tree_pids(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


@dataclass
class Server:
    name: str
    argv: list[str]
    port: int
    env: dict[str, str] | None = None
    log_path: Path | None = None
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        out = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
        )

    def wait_ready(self, timeout: float, path: str = "/v1/models") -> None:
        """Until the port answers HTTP (any status) or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", path)
                conn.getresponse().read()
                conn.close()
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer on port {self.port} within {timeout:.0f} s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


class Sampler:
    """Samples a process tree's RSS in the background; ``peak`` is the largest seen."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.peak = max(self.peak, tree_rss_mb(self.pid))
