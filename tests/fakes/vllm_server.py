"""A fake vLLM server speaking vLLM's OpenAI-compatible wire format, with scriptable faults.

It answers like ``vllm serve BASE --enable-lora --lora-modules ...`` does:

- ``GET /v1/models``: base models (``root`` = the model, ``max_model_len``) and LoRA adapters
  (``root`` = the adapter's path, ``parent`` = its base model);
- ``POST /v1/chat/completions``: non-streaming, or SSE framed exactly as vLLM frames it
  (``data: {...}\\n\\n``: role chunk, one content delta per word, finish chunk, a usage chunk
  with ``choices: []`` only when ``stream_options.include_usage``, then ``data: [DONE]\\n\\n``);
- ``POST /v1/embeddings`` (``encoding_format`` ``float`` or ``base64``);
- ``POST /v1/load_lora_adapter`` (``{"lora_name", "lora_path"}``, optional ``load_inplace``) and
  ``/v1/unload_lora_adapter`` (``{"lora_name"}``), as with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``:
  the path must hold an adapter (``adapter_config.json``, rank ≤ ``max_lora_rank``) when
  ``check_lora_paths`` is on; adapters loaded at run time live in memory only, so
  ``restart()`` forgets them (those given as ``adapters=``, like ``--lora-modules``, stay);
- errors as vLLM's ``ErrorResponse``: ``{"error": {"message", "type", "param", "code"}}`` with
  ``code`` the HTTP status, e.g. 404 ``The model `x` does not exist.``; a missing or wrong API
  key gets vLLM's ``{"error": "Unauthorized"}`` (401).

Tokens are counted as whitespace-separated words: the prompt's are the words of every
message's text, the completion's those of the reply. The reply is ``reply`` (a string, an
``Answer`` with tool calls, or a function of the request body returning either) or, by default,
the text of the last user message. An ``Answer``'s tool calls come back as vLLM's tool parsers
send them: ``message.tool_calls`` with ``finish_reason`` ``tool_calls``, or, streamed, one delta
carrying the call's ``id``, ``type`` and ``function.name``, then its ``arguments`` in pieces.

Usage::

    fake = FakeVLLM(models=["qwen"], adapters={"legal": "qwen"}, max_context=4096)
    with fake.serve() as base_url:            # "http://127.0.0.1:PORT/v1"
        fake.fail_next(2, status=503)         # the next two chat/embeddings calls fail
        ...
        fake.requests[-1].body                # what the last request carried
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from tests.fakes.server import serve_in_thread

INFERENCE = frozenset({"chat", "embeddings"})
"""Endpoints a scripted fault applies to unless told otherwise."""
ALL_ENDPOINTS = frozenset({"chat", "embeddings", "models", "lora"})

_ROUTES = {  # path: (method, endpoint, handler)
    "/v1/chat/completions": ("POST", "chat", "_chat"),
    "/v1/embeddings": ("POST", "embeddings", "_embeddings"),
    "/v1/models": ("GET", "models", "_models"),
    "/v1/load_lora_adapter": ("POST", "lora", "_load_lora"),
    "/v1/unload_lora_adapter": ("POST", "lora", "_unload_lora"),
}
_ERROR_TYPES = {400: "BadRequestError", 404: "NotFoundError", 501: "NotImplementedError"}
_WORD = re.compile(r"\s*\S+")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the fake model makes; ``arguments`` is sent as JSON text."""

    name: str
    arguments: str | dict[str, Any] = "{}"
    id: str | None = None

    def wire(self) -> dict[str, Any]:
        arguments = self.arguments if isinstance(self.arguments, str) else msgspec.json.encode(self.arguments).decode()
        call_id = self.id or f"chatcmpl-tool-{uuid.uuid4().hex[:16]}"
        return {"id": call_id, "type": "function", "function": {"name": self.name, "arguments": arguments}}


@dataclass(frozen=True, slots=True)
class Answer:
    """A scripted reply: some text (may be empty) and the tool calls that follow it."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


Reply = str | Answer | Callable[[dict[str, Any]], str | Answer]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the fake received it; ``headers`` keys are lower-case."""

    method: str
    path: str
    endpoint: str
    headers: dict[str, str]
    body: Any
    client: tuple[str, int] | None


@dataclass(slots=True)
class _Fault:
    kind: str  # "status", "delay", "drop" or "stream_error"
    remaining: int
    endpoints: frozenset[str]
    status: int = 503
    body: Any = None
    seconds: float = 0.0
    after_chunks: int | None = None
    models: frozenset[str] | None = None


class FakeVLLM:
    """A vLLM stand-in: ``.app`` is the ASGI app, ``serve()`` runs it on a loopback port."""

    def __init__(
        self,
        models: Iterable[str] = ("fake-base",),
        adapters: Iterable[str] | Mapping[str, str] = (),
        *,
        max_context: int | Mapping[str, int] | None = None,
        reply: Reply | None = None,
        api_key: str | None = None,
        embedding_dim: int = 8,
        max_lora_rank: int = 16,
        check_lora_paths: bool = True,
    ) -> None:
        self.models = list(models)
        self.adapters = dict(adapters) if isinstance(adapters, Mapping) else dict.fromkeys(adapters, self.models[0])
        self._startup_adapters = dict(self.adapters)
        self.adapter_paths: dict[str, str] = {}
        self.max_lora_rank = max_lora_rank
        self.check_lora_paths = check_lora_paths
        self.max_context = max_context
        self.reply = reply
        self.api_key = api_key
        self.embedding_dim = embedding_dim
        self.requests: list[RecordedRequest] = []
        self.base_url: str | None = None
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()

        async def app(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
            await self._handle(scope, receive, send)

        self.app = app

    @contextmanager
    def serve(self, port: int | None = None) -> Iterator[str]:
        """Serve in a background thread; yields (and sets ``base_url`` to) ``http://127.0.0.1:PORT/v1``."""
        with serve_in_thread(self.app, port) as root:
            self.base_url = f"{root}/v1"
            try:
                yield self.base_url
            finally:
                self.base_url = None

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        *,
        body: Any = None,
        endpoints=INFERENCE,
        models: Iterable[str] | None = None,
    ) -> None:
        """Answer the next ``n`` requests with ``status`` and ``body`` (default: a vLLM error; a
        ``dict`` is sent as JSON, ``str``/``bytes`` as text); with ``models``, only requests for those
        models (or LoRA adapters) count."""
        chosen = frozenset(models) if models is not None else None
        self._add(_Fault("status", n, frozenset(endpoints), status=status, body=body, models=chosen))

    def delay_next(self, seconds: float, n: int = 1, *, after_chunks: int | None = None, endpoints=INFERENCE) -> None:
        """Wait ``seconds`` before answering the next ``n`` requests, or, with ``after_chunks=k``,
        before chunk number ``k`` (0 is the role chunk) of the next ``n`` streams."""
        self._add(_Fault("delay", n, frozenset(endpoints), seconds=seconds, after_chunks=after_chunks))

    def drop_next(self, n: int = 1, *, after_chunks: int | None = None, endpoints=INFERENCE) -> None:
        """Close the connection of the next ``n`` requests before the first byte, or after
        ``after_chunks`` stream chunks (a non-streaming answer is then cut after half its body)."""
        self._add(_Fault("drop", n, frozenset(endpoints), after_chunks=after_chunks))

    def error_mid_stream_next(
        self,
        n: int = 1,
        *,
        after_chunks: int = 1,
        status: int = 500,
        message: str = "",
        models: Iterable[str] | None = None,
    ) -> None:
        """Make the next ``n`` streams send vLLM's ``data: {"error": ...}`` event after
        ``after_chunks`` chunks, followed by ``data: [DONE]`` as vLLM does; with ``models``, only
        streams for those models (or LoRA adapters) count."""
        body = _error(message or "Internal server error", "InternalServerError", status)
        chosen = frozenset(models) if models is not None else None
        fault = _Fault("stream_error", n, frozenset({"chat"}), status=status, body=body, after_chunks=after_chunks)
        fault.models = chosen
        self._add(fault)

    def restart(self) -> None:
        """Behave like a restarted server: adapters loaded at run time are gone."""
        with self._lock:
            self.adapters = dict(self._startup_adapters)
            self.adapter_paths.clear()

    def reset(self) -> None:
        """Forget scripted faults and recorded requests."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def bodies(self, endpoint: str = "chat") -> list[Any]:
        """The decoded bodies received on ``endpoint`` (``chat``, ``embeddings``, ``models``, ``lora``)."""
        return [r.body for r in self.requests if r.endpoint == endpoint]

    def _add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, endpoint: str, streaming: bool, model: Any = None) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                stream_only = fault.kind == "stream_error" or (fault.kind == "delay" and fault.after_chunks is not None)
                if fault.models is not None and model not in fault.models:
                    continue
                if endpoint in fault.endpoints and (streaming or not stream_only):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    async def _handle(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        raw = await _read_body(receive)
        method, endpoint, handler = _ROUTES.get(scope["path"], (None, "unknown", ""))
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        body = _decode_or_none(raw)
        self.requests.append(
            RecordedRequest(scope["method"], scope["path"], endpoint, headers, body, scope.get("client"))
        )
        if method is None:
            return await _send_json(send, 404, {"detail": "Not Found"})
        if scope["method"] != method:
            return await _send_json(send, 405, {"detail": "Method Not Allowed"})
        if self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
            return await _send_json(send, 401, {"error": "Unauthorized"})
        model = body.get("model") if isinstance(body, dict) else None
        fault = self._take_fault(endpoint, isinstance(body, dict) and bool(body.get("stream")), model)
        if fault is not None and fault.after_chunks is None:
            if fault.kind == "delay" and not await _pause(fault.seconds, receive):
                return None
            if fault.kind == "drop":
                return await _drop(send, receive)
        if fault is not None and fault.kind == "status":
            return await _send_error_body(send, fault.status, fault.body)
        await getattr(self, handler)(send, receive, body, fault)

    async def _models(self, send: Callable, receive: Callable, body: Any, fault: _Fault | None) -> None:
        now = int(time.time())
        cards = [_card(m, now, root=m, max_model_len=self._context_limit(m)) for m in self.models]
        cards += [
            _card(a, now, root=self.adapter_paths.get(a, f"/adapters/{a}"), parent=p) for a, p in self.adapters.items()
        ]
        await _send_json(send, 200, {"object": "list", "data": cards})

    async def _load_lora(self, send: Callable, receive: Callable, body: Any, fault: _Fault | None) -> None:
        body = body if isinstance(body, dict) else {}
        name, path = body.get("lora_name"), body.get("lora_path")
        if not name or not path:
            message = "Both 'lora_name' and 'lora_path' must be provided."
            return await _send_json(send, 400, _error(message, "InvalidUserInput", 400))
        if name in self.adapters and not body.get("load_inplace"):
            message = (
                f"The lora adapter '{name}' has already been loaded. If you want to load the adapter in place, "
                "set 'load_inplace' to True."
            )
            return await _send_json(send, 400, _error(message, "InvalidUserInput", 400))
        if self.check_lora_paths and (problem := self._adapter_problem(name, path)):
            return await _send_json(send, 400, _error(problem, "BadRequestError", 400))
        self.adapters[name] = self.models[0]
        self.adapter_paths[name] = path
        await _send_text(send, 200, f"Success: LoRA adapter '{name}' added successfully.")

    def _adapter_problem(self, name: str, path: str) -> str | None:
        config = Path(path) / "adapter_config.json"
        if not config.is_file():
            return f"Loading lora {name} failed: No adapter found for {path}"
        rank = json.loads(config.read_text()).get("r")
        if isinstance(rank, int) and rank > self.max_lora_rank:
            return f"LoRA rank {rank} is greater than max_lora_rank {self.max_lora_rank}."
        return None

    async def _unload_lora(self, send: Callable, receive: Callable, body: Any, fault: _Fault | None) -> None:
        name = body.get("lora_name") if isinstance(body, dict) else None
        if not name:
            message = "'lora_name' needs to be provided to unload a LoRA adapter."
            return await _send_json(send, 400, _error(message, "InvalidUserInput", 400))
        if name not in self.adapters:
            return await _send_json(
                send, 404, _error(f"The lora adapter '{name}' cannot be found.", "NotFoundError", 404)
            )
        del self.adapters[name]
        self.adapter_paths.pop(name, None)
        await _send_text(send, 200, f"Success: LoRA adapter '{name}' removed successfully.")

    async def _chat(self, send: Callable, receive: Callable, body: Any, fault: _Fault | None) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return await _send_json(send, 400, _error("Field required: messages", "BadRequestError", 400))
        model = body.get("model") or self.models[0]
        if error := self._check_model(model):
            return await _send_json(send, 404, error)
        prompt_tokens = sum(_words(m.get("content")) for m in body["messages"] if isinstance(m, dict))
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        if error := self._check_context(model, prompt_tokens, max_tokens):
            return await _send_json(send, 400, error)
        answer = self._answer(body)
        pieces = _WORD.findall(answer.text)
        calls = [call.wire() for call in answer.tool_calls]
        finish = "tool_calls" if calls else "stop"
        if isinstance(max_tokens, int) and len(pieces) > max_tokens:
            pieces, calls, finish = pieces[:max_tokens], [], "length"
        usage = _usage(prompt_tokens, len(pieces) + sum(len(c["function"]["arguments"].split()) for c in calls))
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = _stream_chunks(model, pieces, finish, usage if include_usage else None, calls)
            return await _send_stream(send, receive, chunks, fault)
        await _send_json(send, 200, _completion(model, "".join(pieces), finish, usage, calls), receive, fault)

    async def _embeddings(self, send: Callable, receive: Callable, body: Any, fault: _Fault | None) -> None:
        if not isinstance(body, dict) or "input" not in body:
            return await _send_json(send, 400, _error("Field required: input", "BadRequestError", 400))
        model = body.get("model") or self.models[0]
        if error := self._check_model(model):
            return await _send_json(send, 404, error)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        texts = [item if isinstance(item, str) else " ".join(map(str, item)) for item in inputs]
        tokens = sum(_words(t) for t in texts)
        limit = self._context_limit(model)
        if limit is not None and tokens > limit:
            message = (
                f"This model's maximum context length is {limit} tokens. However, you requested {tokens} tokens "
                "in the input for embedding generation. Please reduce the length of the input."
            )
            return await _send_json(send, 400, _error(message, "BadRequestError", 400, "input_tokens"))
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {"index": i, "object": "embedding", "embedding": _vector(t, self.embedding_dim, as_base64)}
            for i, t in enumerate(texts)
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0, "prompt_tokens_details": None}
        response = {"id": f"embd-{uuid.uuid4().hex}", "object": "list", "created": int(time.time()), "model": model}
        await _send_json(send, 200, {**response, "data": data, "usage": usage}, receive, fault)

    def _check_model(self, model: str) -> dict[str, Any] | None:
        if model in self.models or model in self.adapters:
            return None
        return _error(f"The model `{model}` does not exist.", "NotFoundError", 404, "model")

    def _context_limit(self, model: str) -> int | None:
        base = self.adapters.get(model, model)
        if isinstance(self.max_context, Mapping):
            return self.max_context.get(model, self.max_context.get(base))
        return self.max_context

    def _check_context(self, model: str, prompt: int, max_tokens: Any) -> dict[str, Any] | None:
        limit = self._context_limit(model)
        if limit is None:
            return None
        if prompt >= limit:
            message = (
                f"This model's maximum context length is {limit} tokens. However, your request has {prompt} "
                "input tokens. Please reduce the length of the input messages."
            )
            return _error(message, "BadRequestError", 400, "input_tokens")
        if isinstance(max_tokens, int) and prompt + max_tokens > limit:
            message = (
                f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This model's maximum "
                f"context length is {limit} tokens and your request has {prompt} input tokens "
                f"({max_tokens} > {limit} - {prompt})."
            )
            return _error(message, "BadRequestError", 400, "max_tokens")
        return None

    def _answer(self, body: dict[str, Any]) -> Answer:
        reply = self.reply(body) if callable(self.reply) else self.reply
        if isinstance(reply, Answer):
            return reply
        if reply is not None:
            return Answer(reply)
        for message in reversed(body["messages"]):
            if isinstance(message, dict) and message.get("role") == "user":
                return Answer(_text(message.get("content")))
        return Answer()


def _error(message: str, type: str, code: int, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _words(content: Any) -> int:
    return len(_text(content).split())


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
        "prompt_tokens_details": None,
    }


def _card(model_id: str, created: int, *, root: str, parent: str | None = None, max_model_len: int | None = None):
    permission = {
        "id": f"modelperm-{uuid.uuid4().hex}",
        "object": "model_permission",
        "created": created,
        "allow_create_engine": False,
        "allow_sampling": True,
        "allow_logprobs": True,
        "allow_search_indices": False,
        "allow_view": True,
        "allow_fine_tuning": False,
        "organization": "*",
        "group": None,
        "is_blocking": False,
    }
    return {
        "id": model_id,
        "object": "model",
        "created": created,
        "owned_by": "vllm",
        "root": root,
        "parent": parent,
        "max_model_len": max_model_len,
        "permission": [permission],
    }


def _completion(
    model: str, text: str, finish: str, usage: dict[str, Any], calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    content = text if text or not calls else None
    message = {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "tool_calls": calls or [],
        "reasoning_content": None,
    }
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish, "stop_reason": None}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "service_tier": None,
        "system_fingerprint": None,
        "usage": usage,
        "prompt_logprobs": None,
        "kv_transfer_params": None,
    }


def _stream_chunks(
    model: str,
    pieces: list[str],
    finish: str,
    usage: dict[str, Any] | None,
    calls: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time())}
    head["model"] = model

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        if finish_reason is not None:
            choice["stop_reason"] = None
        return {**head, "choices": [choice]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in pieces]
    for index, call in enumerate(calls or ()):
        function = call["function"]
        head_delta = {"index": index, "id": call["id"], "type": "function", "function": {"name": function["name"]}}
        chunks.append(chunk({"tool_calls": [head_delta]}))
        arguments = function["arguments"]
        for start in range(0, len(arguments), 8):
            piece = {"index": index, "function": {"arguments": arguments[start : start + 8]}}
            chunks.append(chunk({"tool_calls": [piece]}))
    chunks.append(chunk({"content": ""}, finish))
    if usage is not None:
        chunks.append({**head, "choices": [], "usage": usage})
    return chunks


def _vector(text: str, dim: int, as_base64: bool) -> list[float] | str:
    digest = hashlib.sha256(text.encode()).digest()
    values = [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(dim)]
    return base64.b64encode(struct.pack(f"<{dim}f", *values)).decode() if as_base64 else values


def _decode_or_none(raw: bytes) -> Any:
    try:
        return msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        return None


async def _read_body(receive: Callable) -> bytes:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


async def _start(send: Callable, status: int, content_type: bytes, length: int | None = None) -> None:
    headers = [(b"content-type", content_type)]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _send_json(send: Callable, status: int, payload: Any, receive=None, fault: _Fault | None = None) -> None:
    data = msgspec.json.encode(payload)
    await _start(send, status, b"application/json", len(data))
    if fault is not None and fault.kind == "drop":
        await send({"type": "http.response.body", "body": data[: len(data) // 2], "more_body": True})
        return await _drop(send, receive)
    await send({"type": "http.response.body", "body": data})


async def _send_text(send: Callable, status: int, text: str) -> None:
    data = text.encode()
    await _start(send, status, b"text/plain; charset=utf-8", len(data))
    await send({"type": "http.response.body", "body": data})


async def _send_error_body(send: Callable, status: int, body: Any) -> None:
    if body is None:
        type_ = _ERROR_TYPES.get(status, "InternalServerError" if status >= 500 else "BadRequestError")
        body = _error(f"scripted failure (HTTP {status})", type_, status)
    if isinstance(body, (str, bytes)):
        data = body.encode() if isinstance(body, str) else body
        await _start(send, status, b"text/plain; charset=utf-8", len(data))
        return await send({"type": "http.response.body", "body": data})
    await _send_json(send, status, body)


async def _send_stream(send: Callable, receive: Callable, chunks: list[dict[str, Any]], fault: _Fault | None) -> None:
    await _start(send, 200, b"text/event-stream; charset=utf-8")
    for index, chunk in enumerate(chunks):
        if fault is not None and fault.after_chunks == index:
            if fault.kind == "drop":
                return await _drop(send, receive)
            if fault.kind == "delay" and not await _pause(fault.seconds, receive):
                return None
            if fault.kind == "stream_error":
                await _event(send, msgspec.json.encode(fault.body))
                break
        await _event(send, msgspec.json.encode(chunk))
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})


async def _event(send: Callable, data: bytes) -> None:
    await send({"type": "http.response.body", "body": b"data: " + data + b"\n\n", "more_body": True})


async def _pause(seconds: float, receive: Callable) -> bool:
    """Sleep, stopping early if the client goes away (as vLLM aborts a request); True if still connected."""
    waiter = asyncio.ensure_future(_wait_disconnect(receive))
    try:
        done, _ = await asyncio.wait({waiter}, timeout=seconds)
        return not done
    finally:
        waiter.cancel()


async def _wait_disconnect(receive: Callable) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _drop(send: Callable, receive: Callable) -> None:
    """Close the TCP connection under the response, as a crashed or killed server would.

    Uvicorn's ``send`` is a method of its request cycle, which holds the connection's transport.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("drop_next needs uvicorn (the ASGI send callable exposes no transport)")
    transport.close()
    await _wait_disconnect(receive)
