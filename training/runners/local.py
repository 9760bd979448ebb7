"""The default runner: ``python -m training.train spec.json`` as a child process on this machine.

Its output goes to ``train.log`` in the job folder. The process runs in its own session so
cancelling it stops everything it started. After a gateway restart the job is found again by its
pid, checked against ``/proc/<pid>/cmdline`` so that a reused pid is not mistaken for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from training.runners.base import Launched, RunnerError
from training.spec import JobSpec

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class LocalRunner:
    name = "local"
    module = "training.train"

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable
        self._children: dict[str, subprocess.Popen] = {}

    def command(self, spec_path: Path) -> list[str]:
        return [self.python, "-m", self.module, str(spec_path)]

    def launch(self, spec: JobSpec, work_dir: Path) -> Launched:
        spec_path = work_dir / "spec.json"
        env = {name: value for name, value in os.environ.items() if _passed_on(name)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
        env.setdefault("HF_HUB_OFFLINE", "1")
        try:
            with (work_dir / "train.log").open("ab") as log:
                child = subprocess.Popen(
                    self.command(spec_path),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=work_dir,
                    env=env,
                    start_new_session=True,
                )
        except OSError as exc:
            raise RunnerError(f"could not start the training process: {exc}") from exc
        self._children[spec.job_id] = child
        return Launched(pid=child.pid)

    def alive(self, job_id: str, pid: int | None) -> bool:
        child = self._children.get(job_id)
        if child is not None:
            return child.poll() is None
        return pid is not None and _is_our_process(pid, job_id)

    def exit_code(self, job_id: str) -> int | None:
        child = self._children.get(job_id)
        return child.poll() if child is not None else None

    def cancel(self, job_id: str, pid: int | None) -> None:
        child = self._children.get(job_id)
        target = child.pid if child is not None else pid
        if target is None or not self.alive(job_id, pid):
            return
        try:
            os.killpg(target, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.alive(job_id, target):
            time.sleep(0.1)
        if self.alive(job_id, target):
            try:
                os.killpg(target, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if child is not None:
            child.wait(timeout=5)


def _is_our_process(pid: int, job_id: str) -> bool:
    """True when ``pid`` runs and its command line names this job's folder (not a reused pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True
    try:
        parts = cmdline.read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.split(") ")[-1].startswith("Z"):
        return False
    return any(job_id.encode() in part for part in parts)


_PASSED_ON = ("PATH", "HOME", "LANG", "LC_", "TMPDIR", "HF_", "TRANSFORMERS_", "TORCH", "OMP_", "MKL_", "CUDA", "NVIDIA_")


def _passed_on(name: str) -> bool:
    """The training process gets what it needs to run, not the gateway's secrets (admin token, upstream keys, DB URL)."""
    return name.startswith(_PASSED_ON) and not name.startswith("GATEWAY_")
