"""Streaming latency client: time to first token and total time of SSE chat completions.

A raw HTTP/1.1 keep-alive client on asyncio streams (no HTTP library in the measured time).
It sends ``--requests`` streaming requests one after the other (``--concurrency`` at once)
and prints one JSON object: per-request TTFT (first ``data:`` event with non-empty
``delta.content``) and total time (to ``data: [DONE]`` and the end of the body), in ms,
plus the number of requests that failed validation (status, chunk count, missing [DONE]).

Standard library only; uvloop is used when importable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


class StreamFailed(Exception):
    pass


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def one(conn: Connection, request: bytes, expect_chunks: int) -> tuple[float, float, int, str]:
    if conn.writer is None:
        await conn.open()
    reader, writer = conn.reader, conn.writer
    assert reader is not None and writer is not None
    started = time.perf_counter()
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    lower = head.lower()
    chunked = b"transfer-encoding: chunked" in lower
    length = None
    at = lower.find(b"content-length:")
    if at >= 0:
        length = int(lower[at + 15 : lower.find(b"\r\n", at)])
    keep_alive = b"connection: close" not in lower

    buffer = b""
    first = None
    content_events = 0
    text: list[str] = []
    done = False

    def feed(data: bytes) -> None:
        nonlocal buffer, first, content_events, done
        buffer += data
        while True:
            cut = buffer.find(b"\n\n")
            if cut < 0:
                return
            event, buffer = buffer[:cut], buffer[cut + 2 :]
            for line in event.split(b"\n"):
                line = line.rstrip(b"\r")
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    done = True
                    continue
                chunk = json.loads(payload)
                if "error" in chunk:
                    raise StreamFailed(f"error event: {chunk['error']}")
                for choice in chunk.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        text.append(content)
                        content_events += 1
                        if first is None:
                            first = time.perf_counter()

    if chunked:
        while True:
            size_line = await reader.readline()
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                break
            feed(await reader.readexactly(size))
            await reader.readexactly(2)
    elif length is not None:
        remaining = length
        while remaining > 0:
            data = await reader.read(min(remaining, 65536))
            if not data:
                raise StreamFailed("connection closed mid-body")
            remaining -= len(data)
            feed(data)
    else:
        keep_alive = False
        while data := await reader.read(65536):
            feed(data)
    ended = time.perf_counter()
    if not keep_alive:
        conn.close()
    if status != 200:
        raise StreamFailed(f"HTTP {status}: {buffer[:200]!r}")
    if not done:
        raise StreamFailed("no data: [DONE]")
    if expect_chunks and content_events != expect_chunks:
        raise StreamFailed(f"{content_events} content chunks, expected {expect_chunks}")
    if first is None:
        raise StreamFailed("no content in the stream")
    return (first - started) * 1000.0, (ended - started) * 1000.0, content_events, "".join(text)


async def run(args: argparse.Namespace) -> dict:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    headers = [f"POST {url.path} HTTP/1.1", f"host: {host}:{port}", "content-type: application/json",
               "accept: text/event-stream"]
    if args.key:
        headers.append(f"authorization: Bearer {args.key}")
    body = args.body.encode()
    headers.append(f"content-length: {len(body)}")
    request = ("\r\n".join(headers) + "\r\n\r\n").encode() + body

    samples: list[tuple[float, float, int, str]] = []
    errors: list[str] = []
    deadline = time.monotonic() + args.max_seconds
    queue = iter(range(args.warmup + args.requests))

    async def worker() -> None:
        conn = Connection(host, port)
        try:
            for index in queue:
                if time.monotonic() > deadline:
                    return
                try:
                    sample = await asyncio.wait_for(one(conn, request, args.expect_chunks), args.timeout)
                except (StreamFailed, OSError, ValueError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    conn.close()
                    continue
                if index >= args.warmup:
                    samples.append(sample)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return {
        "ttft_ms": [round(s[0], 4) for s in samples],
        "total_ms": [round(s[1], 4) for s in samples],
        "content_events": sorted(s[2] for s in samples)[len(samples) // 2] if samples else 0,
        "sample_content": samples[0][3] if samples else "",
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--key")
    parser.add_argument("--body", required=True, help="the JSON request body (with stream: true)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--expect-chunks", type=int, default=0,
                        help="content chunks each stream must carry (0: any number, at least one)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="stop sending after this long")
    args = parser.parse_args()
    try:
        import uvloop

        result = uvloop.run(run(args))
    except ImportError:
        result = asyncio.run(run(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
