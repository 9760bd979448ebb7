"""A fast wire-level stand-in for an OpenAI-compatible model server (vLLM's HTTP surface).

One raw ``asyncio.Protocol`` on uvloop (when installed), HTTP/1.1 keep-alive, no framework:

    POST /v1/chat/completions   non-stream -> one ``chat.completion`` JSON body
                                stream     -> SSE: role chunk, N content chunks, finish chunk,
                                              usage chunk (with ``stream_options.include_usage``),
                                              ``data: [DONE]``; chunked transfer encoding
    GET  /v1/models             the model list
    GET  /health                200

The reply echoes the request's ``model``. Responses are built once per model and cached, so
a request costs a header scan and two regex searches. Run ``python bench/upstream.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import time

_HEADER_END = b"\r\n\r\n"
_MODEL = re.compile(rb'"model"\s*:\s*"((?:[^"\\]|\\.)*)"')
_STREAM = re.compile(rb'"stream"\s*:\s*true')
_USAGE = re.compile(rb'"include_usage"\s*:\s*true')
_CREATED = int(time.time())
_WORDS = ("Hello", " there", "!", " This", " is", " a", " benchmark", " reply", ".")


def _content(n: int) -> list[str]:
    return [_WORDS[i % len(_WORDS)] for i in range(n)]


def _response(status: bytes, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: " + content_type + b"\r\ncontent-length: "
        + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def _chunked(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


class Replies:
    """Pre-encoded replies, cached per (model, kind)."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self._cache: dict[tuple[bytes, bool, bool], object] = {}

    def completion(self, model: bytes) -> bytes:
        key = (model, False, False)
        cached = self._cache.get(key)
        if cached is None:
            words = _content(self.chunks)
            body = {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": _CREATED,
                "model": model.decode(),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(words)},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 9, "completion_tokens": len(words), "total_tokens": 9 + len(words)},
            }
            cached = self._cache[key] = _response(b"200 OK", json.dumps(body, separators=(",", ":")).encode())
        return cached  # type: ignore[return-value]

    def stream_events(self, model: bytes, include_usage: bool) -> list[bytes]:
        """The stream as HTTP chunks: headers first, then one chunk per SSE event, then the terminator."""
        key = (model, True, include_usage)
        cached = self._cache.get(key)
        if cached is None:
            name = model.decode()

            def chunk(choices: list, usage: dict | None = None) -> bytes:
                event = {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion.chunk",
                    "created": _CREATED,
                    "model": name,
                    "choices": choices,
                }
                if usage is not None:
                    event["usage"] = usage
                return _chunked(b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n")

            words = _content(self.chunks)
            events = [
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
                b"transfer-encoding: chunked\r\n\r\n",
                chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                        "finish_reason": None}]),
            ]
            for word in words:
                events.append(
                    chunk([{"index": 0, "delta": {"content": word}, "logprobs": None, "finish_reason": None}])
                )
            events.append(chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]))
            if include_usage:
                usage = {"prompt_tokens": 9, "completion_tokens": len(words), "total_tokens": 9 + len(words)}
                events.append(chunk([], usage))
            events.append(_chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n")
            cached = self._cache[key] = events
        return cached  # type: ignore[return-value]

    def models(self, model: bytes) -> bytes:
        key = (model, False, True)
        cached = self._cache.get(key)
        if cached is None:
            body = {
                "object": "list",
                "data": [{"id": model.decode(), "object": "model", "created": _CREATED, "owned_by": "bench"}],
            }
            cached = self._cache[key] = _response(b"200 OK", json.dumps(body).encode())
        return cached  # type: ignore[return-value]


_NOT_FOUND = _response(b"404 Not Found", b'{"error":{"message":"not found","type":"invalid_request_error"}}')
_HEALTH = _response(b"200 OK", b"{}")


class UpstreamProtocol(asyncio.Protocol):
    """One connection: parse requests as they complete, answer in order."""

    __slots__ = ("replies", "model", "delay", "transport", "buffer", "busy")

    def __init__(self, replies: Replies, model: bytes, delay: float) -> None:
        self.replies = replies
        self.model = model
        self.delay = delay
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False  # a delayed stream is being written; later requests wait in the buffer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._drain()

    def _drain(self) -> None:
        buffer = self.buffer
        while self.transport is not None and not self.busy:
            end = buffer.find(_HEADER_END)
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            start = end + 4
            body_end = start
            chunked = False
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                line_end = head.find(b"\r\n", at + 2)
                body_end = start + int(head[at + 17 : line_end if line_end >= 0 else len(head)])
                if len(buffer) < body_end:
                    return
                body = bytes(buffer[start:body_end])
            elif b"\r\ntransfer-encoding: chunked" in head:
                chunked = True
                parsed = _dechunk(buffer, start)
                if parsed is None:
                    return
                body, body_end = parsed
            else:
                body = b""
            del buffer[:body_end]
            close = b"\r\nconnection: close" in head
            self._answer(head, body, close, chunked)

    def _answer(self, head: bytes, body: bytes, close: bool, chunked: bool) -> None:
        transport = self.transport
        assert transport is not None
        line_end = head.find(b"\r\n")
        method, _, rest = head[: line_end if line_end >= 0 else len(head)].partition(b" ")
        path = rest.partition(b" ")[0].partition(b"?")[0]
        if method == b"post" and path.endswith(b"/chat/completions"):
            found = _MODEL.search(body)
            model = found.group(1) if found else self.model
            if _STREAM.search(body):
                events = self.replies.stream_events(model, bool(_USAGE.search(body)))
                if self.delay > 0:
                    self.busy = True
                    transport.write(events[0] + events[1])
                    asyncio.get_running_loop().call_later(self.delay, self._stream_rest, events, 2, close)
                    return
                transport.write(b"".join(events))
            else:
                transport.write(self.replies.completion(model))
        elif method == b"get" and path.endswith(b"/models"):
            transport.write(self.replies.models(self.model))
        elif method == b"get" and path in (b"/health", b"/healthz"):
            transport.write(_HEALTH)
        else:
            transport.write(_NOT_FOUND)
        if close:
            transport.close()

    def _stream_rest(self, events: list[bytes], index: int, close: bool) -> None:
        transport = self.transport
        if transport is None:
            return
        transport.write(events[index])
        if index + 1 < len(events):
            asyncio.get_running_loop().call_later(self.delay, self._stream_rest, events, index + 1, close)
            return
        self.busy = False
        if close:
            transport.close()
        elif self.buffer:
            self._drain()


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A chunked request body starting at ``start``: (body, end offset), or None if incomplete."""
    parts = []
    at = start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        at = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", at - 2)
            if trailer_end < 0:
                return None
            return b"".join(parts), trailer_end + 4
        if len(buffer) < at + size + 2:
            return None
        parts.append(bytes(buffer[at : at + size]))
        at += size + 2


async def serve(host: str, port: int, chunks: int, model: str, delay_ms: float, ready_file: str | None) -> None:
    loop = asyncio.get_running_loop()
    replies = Replies(chunks)
    delay = delay_ms / 1000.0
    server = await loop.create_server(
        lambda: UpstreamProtocol(replies, model.encode(), delay), host, port, backlog=4096, reuse_address=True
    )
    bound = server.sockets[0].getsockname()[1]
    if ready_file:
        with open(ready_file, "w") as handle:
            handle.write(str(bound))
    print(f"upstream listening on http://{host}:{bound}/v1 ({chunks} stream chunks)", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18000)
    parser.add_argument("--chunks", type=int, default=32, help="content chunks per streamed reply")
    parser.add_argument("--model", default="bench-model", help="the id /v1/models lists")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="pause between stream chunks")
    parser.add_argument("--ready-file", help="write the bound port here once listening")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        parser.error("the benchmark upstream listens on loopback only")
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(serve(args.host, args.port, args.chunks, args.model, args.chunk_delay_ms, args.ready_file))


if __name__ == "__main__":
    main()
