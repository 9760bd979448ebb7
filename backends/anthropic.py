"""Anthropic Claude behind the OpenAI interface, over the Messages API (``POST /v1/messages``).

Translation lives in ``backends.anthropic_translate``; this module does the HTTP with one
pooled client (:mod:`backends.http`) and maps failures onto ``backends.errors``:

    connect / read / pool timeout                      BackendTimeout
    connection refused or dropped, malformed reply     BackendUnavailable
    429, 5xx, 529 overloaded, ``error`` stream event   BackendUnavailable(status=...)
    401 / 403 (the gateway's own key is refused)       BackendUnavailable(status=...)
    400 "prompt is too long" / context limit           ContextLengthExceeded
    any other 4xx                                      UpstreamRejected(status=..., message kept)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

from backends.anthropic_translate import StreamTranslator, to_anthropic_request, to_openai_completion
from backends.base import Backend, Timeouts
from backends.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ContextLengthExceeded,
    UpstreamRejected,
)
from backends.http import TransportError, UpstreamClient, UpstreamStream
from backends.sse import SSEDecoder

CONTEXT_LENGTH_MARKERS = ("prompt is too long", "exceed context limit", "context window")
DEFAULT_TIMEOUTS = Timeouts()
STREAM_ERROR_STATUS = {"overloaded_error": 529, "api_error": 500, "rate_limit_error": 429, "timeout_error": 504}


class AnthropicBackend(Backend):
    """Claude via Anthropic's Messages API, speaking OpenAI chat completions to the gateway."""

    kind = "anthropic"

    def __init__(
        self,
        name: str,
        models: tuple[str, ...],
        base_url: str,
        api_key: str | None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        max_connections: int = 100,
        anthropic_version: str = "2023-06-01",
        default_max_tokens: int = 4096,
    ) -> None:
        super().__init__(name, models)
        self.default_max_tokens = default_max_tokens
        headers = {"anthropic-version": anthropic_version, "content-type": "application/json"}
        if api_key:
            headers["x-api-key"] = api_key
        self._root = _api_root(base_url)
        self._client = UpstreamClient(headers, timeouts.connect, timeouts.read, max_connections)

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """Run one Messages call and return it as an OpenAI ``chat.completion``."""
        request = to_anthropic_request(body, default_max_tokens=self.default_max_tokens, stream=False)
        with self._transport_errors():
            response = await self._client.request("POST", f"{self._root}/v1/messages", _dumps(request))
        if response.status >= 400:
            raise self._http_error(response.status, response.content)
        try:
            message = json.loads(response.content)
        except ValueError:
            raise BackendUnavailable("Anthropic sent a reply that is not JSON", backend=self.name) from None
        if not isinstance(message, dict) or message.get("type") != "message":
            raise BackendUnavailable("Anthropic sent a reply that is not a message", backend=self.name)
        return to_openai_completion(message)

    async def chat_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Stream one Messages call as OpenAI chunks, ending with the usage chunk."""
        request = to_anthropic_request(body, default_max_tokens=self.default_max_tokens, stream=True)
        translator = StreamTranslator(fallback_model=body.get("model", ""))
        with self._transport_errors():
            async with self._client.stream("POST", f"{self._root}/v1/messages", _dumps(request)) as response:
                if response.status >= 400:
                    raise self._http_error(response.status, await response.read())
                async for event in self._events(response):
                    for chunk in translator.feed(event):
                        yield chunk
                    if translator.done:
                        return
        raise BackendUnavailable("Anthropic's stream ended before message_stop", backend=self.name)

    async def health(self) -> None:
        """Reachable when ``GET /v1/models`` answers below 500 (Anthropic has no health endpoint)."""
        with self._transport_errors():
            response = await self._client.request("GET", f"{self._root}/v1/models?limit=1")
        if response.status >= 500:
            raise BackendUnavailable(f"Anthropic answered {response.status}", backend=self.name, status=response.status)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def _events(self, response: UpstreamStream) -> AsyncIterator[dict[str, Any]]:
        decoder = SSEDecoder()
        async for raw in response.chunks():
            for data in decoder.feed(raw):
                yield self._event(data)
        for data in decoder.close():
            yield self._event(data)

    def _event(self, data: bytes) -> dict[str, Any]:
        """One decoded event; every Anthropic event names itself in ``type``, so the SSE name is not needed."""
        try:
            event = json.loads(data)
        except ValueError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise BackendUnavailable("Anthropic sent a malformed stream event", backend=self.name)
        if event["type"] == "error":
            raise self._stream_error(event.get("error") or {})
        return event

    def _stream_error(self, error: dict[str, Any]) -> BackendUnavailable:
        kind = error.get("type") or "api_error"
        message = f"Anthropic stream failed ({kind}): {error.get('message') or 'no message'}"
        return BackendUnavailable(message, backend=self.name, status=STREAM_ERROR_STATUS.get(kind))

    def _http_error(self, status: int, content: bytes) -> BackendError:
        kind, message = _error_details(content)
        text = f"Anthropic answered {status} ({kind}): {message}"
        if status == 429 or status >= 500 or status in (401, 403):
            return BackendUnavailable(text, backend=self.name, status=status)
        if status in (400, 413) and any(marker in message.lower() for marker in CONTEXT_LENGTH_MARKERS):
            return ContextLengthExceeded(message, backend=self.name)
        code = "model_not_found" if status == 404 else None
        return UpstreamRejected(message, backend=self.name, status=status, type="invalid_request_error", code=code)

    @contextmanager
    def _transport_errors(self) -> Iterator[None]:
        try:
            yield
        except TransportError as exc:
            if exc.timeout:
                raise BackendTimeout(f"Anthropic timed out: {exc}", backend=self.name) from exc
            raise BackendUnavailable(f"Anthropic unreachable: {exc}", backend=self.name) from exc


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _api_root(base_url: str) -> str:
    root = base_url.rstrip("/")
    return root.removesuffix("/v1")


def _error_details(content: bytes) -> tuple[str, str]:
    """``(type, message)`` from Anthropic's ``{"type": "error", "error": {...}}`` body, or the raw text."""
    try:
        error = json.loads(content).get("error") or {}
        return str(error.get("type") or "error"), str(error.get("message") or "")
    except (ValueError, AttributeError):
        return "error", content.decode("utf-8", "replace")[:500]
