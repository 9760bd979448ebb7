"""A real ``mlx_lm server`` process (the tiny local model) behind the gateway, as kind ``mlx`` over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from tests.fakes.server import free_port
from tests.gateway.harness import running_gateway, settings_for, wait_for

pytest.importorskip("mlx_lm")


@pytest.fixture(scope="module")
def mlx_server(tiny_model_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlx_lm", "server", "--model", str(tiny_model_path), "--port", str(port),
         "--host", "127.0.0.1", "--log-level", "ERROR"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/models", timeout=1)
            break
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"mlx_lm server did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield base, str(tiny_model_path)
    process.terminate()
    process.wait(timeout=10)


def test_the_gateway_serves_an_mlx_lm_server_backend(mlx_server, sqlite_url, tmp_path):
    base, model_path = mlx_server
    backends = [{"name": "mac", "kind": "mlx", "base_url": base, "models": [model_path]}]
    with running_gateway(settings_for(sqlite_url, tmp_path, backends)) as gateway:
        key = gateway.tenant("acme")
        gateway.route("acme", "mac-model", [{"backend": "mac", "model": model_path}])
        client = gateway.openai(key, timeout=60)
        messages = [{"role": "user", "content": "Merhaba"}]
        assert wait_for(lambda: "mac-model" in {m.id for m in client.models.list()})
        raw = client.chat.completions.with_raw_response.create(model="mac-model", messages=messages, max_tokens=6)
        completion = raw.parse()
        assert raw.headers["x-gateway-backend"] == "mac"
        assert 0 < completion.usage.completion_tokens <= 6
        chunks = list(client.chat.completions.create(model="mac-model", messages=messages, max_tokens=6, stream=True,
                                                     stream_options={"include_usage": True}))
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 6
        assert any(c.choices and c.choices[0].finish_reason for c in chunks)
