"""The one SSE writer: relays a backend's chunks to the client and keeps per-choice state.

Order on the wire, as OpenAI sends it: role chunk → content deltas → finish chunk → usage chunk
(``choices: []``, only when the client asked with ``stream_options.include_usage``) →
``data: [DONE]``. A failure after the first byte ends the stream with an OpenAI-shaped error
event and ``[DONE]``, never a silent truncation.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from backends.errors import BackendError
from backends.openai_protocol import error_body
from gateway.errors import GatewayError

log = logging.getLogger("gateway.sse")

DONE = b"data: [DONE]\n\n"
_encode = msgspec.json.Encoder().encode


def sse_event(payload: Any) -> bytes:
    """One ``data:`` event."""
    return b"data: " + _encode(payload) + b"\n\n"


@dataclass(frozen=True, slots=True)
class StreamFailure:
    """The stream failed after its first byte; ``body`` is the OpenAI-shaped error to send."""

    body: dict[str, Any]


class StreamRelay:
    """Turns ``first_chunk`` + ``rest`` into what the client receives, tracking usage and failure.

    ``transform`` (the output guardrails) may rewrite, hold back or add chunks; ``observers`` see
    every chunk the client will receive. Chunks that close the stream (a
    ``finish_reason`` or the usage chunk) are held back until the upstream has ended, so that
    ``on_done`` — which runs once however the stream ended — can add ``final_fields`` (an
    attestation) to the last of them. ``deltas_seen`` counts content and tool-call deltas (about
    one token each): the usage charged when a client leaves before the upstream reported its own.
    """

    def __init__(
        self,
        first_chunk: dict[str, Any],
        rest: AsyncIterator[dict[str, Any]],
        *,
        include_usage: bool,
        on_done: Callable[[StreamRelay], Awaitable[None]],
        observers: Sequence[Callable[[dict[str, Any]], None]] = (),
        transform: Callable[[dict[str, Any]], Awaitable[list[dict[str, Any]]]] | None = None,
        flush: Callable[[], Awaitable[list[dict[str, Any]]]] | None = None,
    ) -> None:
        self._first = first_chunk
        self._rest = rest
        self._include_usage = include_usage
        self._on_done = on_done
        self._observers = observers
        self._transform = transform
        self._flush = flush
        self._held: list[dict[str, Any]] = []
        self.final_fields: dict[str, Any] = {}
        self.usage: dict[str, Any] | None = None
        self.model: str | None = first_chunk.get("model")
        self.failed: str | None = None
        self.completed = False
        self.deltas_seen = 0
        self.trailers: list[dict[str, Any]] = []

    def _observe(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        """Record the chunk; return what the client should receive (``None``: nothing)."""
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
        choices = chunk.get("choices") or []
        for choice in choices:
            delta = choice.get("delta") or {}
            if delta.get("content") or delta.get("tool_calls"):
                self.deltas_seen += 1
        if not self._include_usage:
            if not choices and usage:
                return None
            if "usage" in chunk:
                chunk = {k: v for k, v in chunk.items() if k != "usage"}
        return chunk

    @staticmethod
    def _closes(chunk: dict[str, Any]) -> bool:
        choices = chunk.get("choices")
        return not choices or any(c.get("finish_reason") for c in choices)

    async def _chunks(self) -> AsyncIterator[dict[str, Any]]:
        yield self._first
        async for chunk in self._rest:
            yield chunk

    async def items(self) -> AsyncIterator[dict[str, Any] | StreamFailure]:
        """What the client receives, in order: chunks, at most one failure, then the trailers.

        ``on_done`` has run (and may have added ``trailers``) before the first trailer is yielded.
        """
        try:
            async for chunk in self._chunks():
                outgoing = self._observe(chunk)
                if outgoing is None:
                    continue
                for item in await self._transform(outgoing) if self._transform else (outgoing,):
                    for observe in self._observers:
                        observe(item)
                    if self._closes(item):
                        self._held.append(item)
                        continue
                    while self._held:
                        yield self._held.pop(0)
                    yield item
            self.completed = True
        except GatewayError as error:
            self.failed = error.message
            while self._held:
                yield self._held.pop(0)
            yield StreamFailure(error_body(error.message, error.type, error.param, error.code))
        except BackendError as error:
            self.failed = error.message
            while self._held:
                yield self._held.pop(0)
            for item in await self._flush() if self._flush else ():
                for observe in self._observers:
                    observe(item)
                yield item
            yield StreamFailure(
                error_body(
                    f"The upstream failed mid-stream: {error.message}", "upstream_error", None, "upstream_stream_error"
                )
            )
        except Exception:
            log.exception("stream relay failed")
            self.failed = "internal error"
            while self._held:
                yield self._held.pop(0)
            yield StreamFailure(error_body("The gateway failed mid-stream.", "api_error", None, "internal_error"))
        finally:
            aclose = getattr(self._rest, "aclose", None)
            if aclose is not None:
                await aclose()
            await self._on_done(self)
        if self._held and self.final_fields:
            self._held[-1] = {**self._held[-1], **self.final_fields}
        for chunk in self._held:
            yield chunk
        self._held = []
        for trailer in self.trailers:
            yield trailer

    async def events(self) -> AsyncIterator[bytes]:
        """The chat completions SSE byte stream: every item as a ``data:`` event, then ``[DONE]``."""
        async for item in self.items():
            yield sse_event(item.body if isinstance(item, StreamFailure) else item)
        yield DONE
