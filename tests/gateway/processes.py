"""Real ``gateway serve`` processes for tests that need several replicas or a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fakes.server import free_port
from tests.gateway.harness import ADMIN_TOKEN, TEST_KEK


class GatewayProcess:
    """``python -m gateway serve`` with its configuration in the environment."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "GATEWAY_PORT": str(self.port), "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
                    "GATEWAY_LOG_LEVEL": "WARNING", "GATEWAY_ATTESTATION__KEK": TEST_KEK}
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> GatewayProcess:
        log = open(self.workdir / f"gateway-{self.port}.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve"], env=self.env, cwd=self.workdir, stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited: {(self.workdir / f'gateway-{self.port}.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("gateway did not start in time")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)
