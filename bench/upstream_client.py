"""What the HTTP client to the upstream costs: httpx vs aiohttp (vs httpx over aiohttp's transport, and pyreqwest when installed).

Starts ``upstream.py`` on its own core, then, in this process on another core, sends
non-streaming chat completions through each client at concurrency 1 and 64 and prints
requests per second and CPU per request. The gateway's backends use the cheapest sound one
(see ``backends/http.py``).

    .venv/bin/python bench/upstream_client.py [--requests 6000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx

BENCH = Path(__file__).resolve().parent
BODY = b'{"model":"bench-model","messages":[{"role":"user","content":"hello"}]}'
HEADERS = {"content-type": "application/json", "authorization": "Bearer bench"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if (os.cpu_count() or 1) > 1 else []


async def measure(call: Callable[[], Awaitable[None]], requests: int, concurrency: int) -> tuple[float, float]:
    for _ in range(200):
        await call()
    wall, cpu = time.perf_counter(), time.process_time()

    async def worker(count: int) -> None:
        for _ in range(count):
            await call()

    await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return requests / wall, cpu / requests * 1e6


async def run(url: str, requests: int) -> list[tuple[str, int, float, float]]:
    clients: dict[str, Callable[[], Awaitable[None]]] = {}
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    plain = httpx.AsyncClient(limits=limits)

    async def via_httpx() -> None:
        (await plain.post(url, content=BODY, headers=HEADERS)).content

    clients["httpx"] = via_httpx
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))

    async def via_aiohttp() -> None:
        async with session.post(url, data=BODY, headers=HEADERS) as response:
            await response.read()

    clients["aiohttp"] = via_aiohttp
    bridged = None
    try:
        from httpx_aiohttp import AiohttpTransport

        bridged = httpx.AsyncClient(transport=AiohttpTransport())

        async def via_bridge() -> None:
            (await bridged.post(url, content=BODY, headers=HEADERS)).content

        clients["httpx over aiohttp"] = via_bridge
    except ImportError:
        print("httpx-aiohttp not installed: that row is skipped", file=sys.stderr)
    reqwest = None
    try:
        from pyreqwest.client import ClientBuilder

        reqwest = ClientBuilder().max_connections(100).build()

        async def via_pyreqwest() -> None:
            async with reqwest.post(url).body_bytes(BODY).headers(HEADERS).build_streamed() as response:
                await response.bytes()

        async def via_pyreqwest_whole() -> None:
            response = await reqwest.post(url).body_bytes(BODY).headers(HEADERS).build().send()
            await response.bytes()

        clients["pyreqwest (streamed)"] = via_pyreqwest
        clients["pyreqwest"] = via_pyreqwest_whole
    except ImportError:
        print("pyreqwest not installed: that row is skipped", file=sys.stderr)
    rows = []
    try:
        for concurrency in (1, 64):
            for name, call in clients.items():
                rps, cpu_us = await measure(call, requests, concurrency)
                rows.append((name, concurrency, rps, cpu_us))
    finally:
        await plain.aclose()
        await session.close()
        if bridged is not None:
            await bridged.aclose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=6000)
    args = parser.parse_args()
    port = free_port()
    upstream = subprocess.Popen(
        [*pin(1), sys.executable, str(BENCH / "upstream.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        if (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {0})
        try:
            import uvloop

            rows = uvloop.run(run(f"http://127.0.0.1:{port}/v1/chat/completions", args.requests))
        except ImportError:
            rows = asyncio.run(run(f"http://127.0.0.1:{port}/v1/chat/completions", args.requests))
    finally:
        upstream.terminate()
        upstream.wait(10)
    print(f"{'client':20s} {'conc.':>5s} {'req/s':>9s} {'CPU µs/req':>11s}")
    for name, concurrency, rps, cpu_us in rows:
        print(f"{name:20s} {concurrency:5d} {rps:9,.0f} {cpu_us:11,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
