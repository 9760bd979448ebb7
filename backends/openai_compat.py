"""A backend for any server that already speaks OpenAI's wire format: vLLM, OpenAI, mlx_lm.server.

Bodies pass through untouched (unknown fields included); the only change is that streaming
requests always ask for a usage chunk (``stream_options.include_usage``). One pooled
HTTP/1.1 keep-alive client serves every call; JSON goes through ``msgspec``.

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

import httpx
import msgspec

from backends.base import Backend, Timeouts
from backends.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ContextLengthExceeded,
    UpstreamRejected,
)
from backends.sse import SSEDecoder

_DEFAULT_TIMEOUTS = Timeouts()
_DONE = b"[DONE]"
_HEALTH_TIMEOUT = 5.0
_KEEPALIVE_EXPIRY = 4.0  # below uvicorn's (and so vLLM's) 5 s idle timeout, to avoid reusing a closing socket
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
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect, pool=timeouts.connect),
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=_KEEPALIVE_EXPIRY,
            ),
            http1=True,
            http2=False,
        )
        health_read = min(_HEALTH_TIMEOUT, timeouts.read)
        self._health_timeout = httpx.Timeout(health_read, connect=min(timeouts.connect, health_read))

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``/chat/completions`` with ``body`` as given and return the decoded ``chat.completion``."""
        return await self._post_json(self._chat_url, body)

    async def chat_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Stream ``/chat/completions``, yielding each chunk; the request is sent on the first ``__anext__``."""
        request = self._client.build_request("POST", self._chat_url, content=_encode(_streaming(body)))
        response = await self._send(request, stream=True)
        try:
            if response.status_code >= 400:
                raise await self._failed_stream(response)
            decoder = SSEDecoder()
            reads = response.aiter_bytes()
            try:
                async for raw in reads:
                    for data in decoder.feed(raw):
                        if data == _DONE:
                            await _drain(reads)
                            return
                        yield self._chunk(data)
            except httpx.RequestError as exc:
                raise self._transport_error(exc) from exc
            for data in decoder.close():
                if data == _DONE:
                    return
                yield self._chunk(data)
            raise BackendUnavailable("upstream ended the stream before [DONE]", backend=self.name)
        finally:
            await response.aclose()

    async def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``/embeddings`` with ``body`` as given and return the decoded response."""
        return await self._post_json(self._embeddings_url, body)

    async def health(self) -> None:
        """GET ``/models`` with a short deadline; raise ``BackendUnavailable`` unless it answers 2xx."""
        response = await self._send(self._client.build_request("GET", self._models_url, timeout=self._health_timeout))
        if not response.is_success:
            raise BackendUnavailable(
                f"health check got HTTP {response.status_code} from {self._models_url}",
                backend=self.name,
                status=response.status_code,
            )

    async def list_models(self) -> list[str]:
        """The ids the upstream serves (on vLLM: base models and loaded LoRA adapters)."""
        listing = await self._request_json(self._client.build_request("GET", self._models_url))
        try:
            return [entry["id"] for entry in listing["data"]]
        except (KeyError, TypeError) as exc:
            raise BackendUnavailable("upstream sent a malformed model list", backend=self.name) from exc

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def _post_json(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._request_json(self._client.build_request("POST", url, content=_encode(body)))

    async def _request_json(self, request: httpx.Request) -> Any:
        response = await self._send(request)
        if response.status_code >= 400:
            raise self._status_error(response)
        try:
            return _decode(response.content)
        except msgspec.DecodeError as exc:
            raise BackendUnavailable(
                f"upstream sent invalid JSON (HTTP {response.status_code})", backend=self.name
            ) from exc

    async def _send(self, request: httpx.Request, stream: bool = False) -> httpx.Response:
        try:
            return await self._client.send(request, stream=stream)
        except httpx.RequestError as exc:
            raise self._transport_error(exc) from exc

    async def _failed_stream(self, response: httpx.Response) -> BackendError:
        try:
            await response.aread()
        except httpx.RequestError as exc:
            return self._transport_error(exc)
        return self._status_error(response)

    def _chunk(self, data: bytes) -> dict[str, Any]:
        try:
            chunk = _decode(data)
        except msgspec.DecodeError as exc:
            raise BackendUnavailable("upstream sent an invalid stream event", backend=self.name) from exc
        if "error" in chunk:
            raise self._stream_error(chunk["error"])
        return chunk

    def _transport_error(self, exc: httpx.RequestError) -> BackendUnavailable:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            return BackendTimeout(f"upstream timed out ({detail})", backend=self.name)
        return BackendUnavailable(f"upstream connection failed ({detail})", backend=self.name)

    def _stream_error(self, error: Any) -> BackendUnavailable:
        fields = _error_fields(error)
        status = fields["code"] if isinstance(fields["code"], int) else None
        return BackendUnavailable(f"upstream failed mid-stream: {fields['message']}", backend=self.name, status=status)

    def _status_error(self, response: httpx.Response) -> BackendError:
        status = response.status_code
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
    except httpx.RequestError:
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


def _fallback_message(response: httpx.Response) -> str:
    text = response.content[:200].decode("utf-8", "replace").strip()
    reason = response.reason_phrase or "error"
    return f"upstream answered HTTP {response.status_code} {reason}" + (f": {text}" if text else "")
