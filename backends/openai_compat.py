"""A backend for any server that already speaks OpenAI's wire format: vLLM, OpenAI, mlx_lm.server.

Bodies pass through untouched (unknown fields included); the only change is that streaming
requests always ask for a usage chunk (``stream_options.include_usage``). One pooled
HTTP/1.1 keep-alive client (:mod:`backends.http`) serves every call; JSON goes through ``msgspec``.

Upstream failures become the errors of :mod:`backends.errors`:

    connect/read/pool timeout                       -> BackendTimeout
    refused, reset or dropped connection            -> BackendUnavailable
    HTTP 401, 403, 408, 409, 429 and 5xx            -> BackendUnavailable(status=...)
    HTTP 4xx saying the prompt is too long          -> ContextLengthExceeded
    any other HTTP 4xx                              -> UpstreamRejected(status, type, param, code)
    ``data: {"error": ...}`` inside a stream        -> BackendUnavailable
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from backends.base import Backend, Timeouts
from backends.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ContextLengthExceeded,
    UpstreamRejected,
)
from backends.http import TransportError, UpstreamClient, UpstreamResponse
from backends.sse import SSEDecoder

_DEFAULT_TIMEOUTS = Timeouts()
_DONE = b"[DONE]"
_HEALTH_TIMEOUT = 5.0
_UNAVAILABLE_STATUSES = frozenset({401, 403, 408, 409, 429})
_CONTEXT_LENGTH = re.compile(
    r"maximum context length|maximum model length|context length exceeded|context_length_exceeded|prompt is too long",
    re.IGNORECASE,
)

_decode = msgspec.json.decode
_encode = msgspec.json.encode


class OpenAICompatibleBackend(Backend):
    """Forwards OpenAI-shaped requests to an OpenAI-compatible server at ``base_url`` (ending in ``/v1``)."""

    def __init__(
        self,
        name: str,
        models: tuple[str, ...],
        base_url: str,
        api_key: str | None = None,
        kind: str = "openai",
        timeouts: Timeouts = _DEFAULT_TIMEOUTS,
        max_connections: int = 200,
    ) -> None:
        super().__init__(name, models)
        self.kind = kind
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self._chat_url = f"{self.base_url}/chat/completions"
        self._embeddings_url = f"{self.base_url}/embeddings"
        self._models_url = f"{self.base_url}/models"
        headers = {"content-type": "application/json"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        self._client = UpstreamClient(headers, timeouts.connect, timeouts.read, max_connections)
        self._health_timeout = min(_HEALTH_TIMEOUT, timeouts.read)

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``/chat/completions`` with ``body`` as given and return the decoded ``chat.completion``."""
        return await self._post_json(self._chat_url, body)

    async def chat_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Stream ``/chat/completions``, yielding each chunk; the request is sent on the first ``__anext__``."""
        try:
            async with self._client.stream("POST", self._chat_url, _encode(_streaming(body))) as response:
                if response.status >= 400:
                    content = await response.read()
                    raise self._status_error(UpstreamResponse(response.status, response.reason, content))
                decoder = SSEDecoder()
                reads = response.chunks()
                async for raw in reads:
                    for data in decoder.feed(raw):
                        if data == _DONE:
                            await _drain(reads)
                            return
                        yield self._chunk(data)
                for data in decoder.close():
                    if data == _DONE:
                        return
                    yield self._chunk(data)
        except TransportError as exc:
            raise self._transport_error(exc) from exc
        raise BackendUnavailable("upstream ended the stream before [DONE]", backend=self.name)

    async def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``/embeddings`` with ``body`` as given and return the decoded response."""
        return await self._post_json(self._embeddings_url, body)

    async def health(self) -> None:
        """GET ``/models`` with a short deadline; raise ``BackendUnavailable`` unless it answers 2xx."""
        response = await self._send("GET", self._models_url, read_timeout=self._health_timeout)
        if not 200 <= response.status < 300:
            raise BackendUnavailable(
                f"health check got HTTP {response.status} from {self._models_url}",
                backend=self.name,
                status=response.status,
            )

    async def list_models(self) -> list[str]:
        """The ids the upstream serves (on vLLM: base models and loaded LoRA adapters)."""
        listing = await self._request_json("GET", self._models_url)
        try:
            return [entry["id"] for entry in listing["data"]]
        except (KeyError, TypeError) as exc:
            raise BackendUnavailable("upstream sent a malformed model list", backend=self.name) from exc

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def _post_json(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._request_json("POST", url, _encode(body))

    async def _request_json(self, method: str, url: str, body: bytes | None = None) -> Any:
        response = await self._send(method, url, body)
        if response.status >= 400:
            raise self._status_error(response)
        try:
            return _decode(response.content)
        except msgspec.DecodeError as exc:
            raise BackendUnavailable(f"upstream sent invalid JSON (HTTP {response.status})", backend=self.name) from exc

    async def _send(
        self, method: str, url: str, body: bytes | None = None, read_timeout: float | None = None
    ) -> UpstreamResponse:
        try:
            return await self._client.request(method, url, body, read_timeout=read_timeout)
        except TransportError as exc:
            raise self._transport_error(exc) from exc

    def _chunk(self, data: bytes) -> dict[str, Any]:
        try:
            chunk = _decode(data)
        except msgspec.DecodeError as exc:
            raise BackendUnavailable("upstream sent an invalid stream event", backend=self.name) from exc
        if "error" in chunk:
            raise self._stream_error(chunk["error"])
        return chunk

    def _transport_error(self, exc: TransportError) -> BackendUnavailable:
        if exc.timeout:
            return BackendTimeout(f"upstream timed out ({exc})", backend=self.name)
        return BackendUnavailable(f"upstream connection failed ({exc})", backend=self.name)

    def _stream_error(self, error: Any) -> BackendUnavailable:
        fields = _error_fields(error)
        status = fields["code"] if isinstance(fields["code"], int) else None
        return BackendUnavailable(f"upstream failed mid-stream: {fields['message']}", backend=self.name, status=status)

    def _status_error(self, response: UpstreamResponse) -> BackendError:
        status = response.status
        fields = _error_fields(_decode_or_none(response.content))
        message = fields["message"] or _fallback_message(response)
        if status >= 500 or status in _UNAVAILABLE_STATUSES:
            return BackendUnavailable(f"upstream HTTP {status}: {message}", backend=self.name, status=status)
        if fields["code"] == "context_length_exceeded" or _CONTEXT_LENGTH.search(message):
            return ContextLengthExceeded(message, backend=self.name)
        code = fields["code"]
        return UpstreamRejected(
            message,
            backend=self.name,
            status=status,
            type=fields["type"] or "invalid_request_error",
            param=fields["param"] if isinstance(fields["param"], str) else None,
            code=None if code is None else str(code),
        )


def _streaming(body: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy of ``body`` set to stream with a usage chunk; the caller's dicts stay as they were."""
    options = body.get("stream_options")
    options = {**options, "include_usage": True} if isinstance(options, dict) else {"include_usage": True}
    return {**body, "stream": True, "stream_options": options}


async def _drain(reads: AsyncIterator[bytes]) -> None:
    """Read to the end of the body after ``[DONE]`` so the connection goes back to the pool."""
    try:
        async for _ in reads:
            pass
    except TransportError:
        pass


def _decode_or_none(content: bytes) -> Any:
    try:
        return _decode(content)
    except msgspec.DecodeError:
        return None


def _error_fields(payload: Any) -> dict[str, Any]:
    """``message``, ``type``, ``param``, ``code`` from the error shapes OpenAI-compatible servers send.

    ``{"error": {...}}`` (OpenAI, vLLM), ``{"error": "..."}`` (vLLM's API-key check),
    ``{"object": "error", "message": ...}`` (older vLLM) and ``{"detail": ...}`` (FastAPI).
    """
    error: Any = payload
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict) and "message" not in error and "detail" in error:
            error = {"message": str(error["detail"])}
    if isinstance(error, str):
        error = {"message": error}
    if not isinstance(error, dict):
        error = {}
    message = error.get("message")
    return {
        "message": message if isinstance(message, str) else ("" if message is None else str(message)),
        "type": error.get("type") if isinstance(error.get("type"), str) else None,
        "param": error.get("param"),
        "code": error.get("code"),
    }


def _fallback_message(response: UpstreamResponse) -> str:
    text = response.content[:200].decode("utf-8", "replace").strip()
    reason = response.reason or "error"
    return f"upstream answered HTTP {response.status} {reason}" + (f": {text}" if text else "")
