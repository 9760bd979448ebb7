"""The OpenAI wire format, modelled in one place.

Request structs validate what clients send (types and ranges, in the order of OpenAI's
reference) without dropping anything: callers keep the decoded ``dict`` for pass-through and
use the struct only to reject bad input with a message that names the field. Response
builders produce the exact shapes the official ``openai`` SDK parses.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import msgspec

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]

_Temperature = Annotated[float, msgspec.Meta(ge=0, le=2)]
_Probability = Annotated[float, msgspec.Meta(ge=0, le=1)]
_Penalty = Annotated[float, msgspec.Meta(ge=-2, le=2)]
_PositiveInt = Annotated[int, msgspec.Meta(ge=1)]


class ChatMessage(msgspec.Struct, forbid_unknown_fields=False):
    """One message of a conversation; content is text or a list of typed parts."""

    role: Role
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class StreamOptions(msgspec.Struct, forbid_unknown_fields=False):
    include_usage: bool | None = None


class ChatCompletionRequest(msgspec.Struct, forbid_unknown_fields=False):
    """``POST /v1/chat/completions`` body (unknown fields are allowed and passed through)."""

    model: str
    messages: Annotated[list[ChatMessage], msgspec.Meta(min_length=1)]
    frequency_penalty: _Penalty | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, msgspec.Meta(ge=0, le=20)] | None = None
    max_tokens: _PositiveInt | None = None
    max_completion_tokens: _PositiveInt | None = None
    n: Annotated[int, msgspec.Meta(ge=1, le=128)] | None = None
    presence_penalty: _Penalty | None = None
    response_format: dict[str, Any] | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: _Temperature | None = None
    top_p: _Probability | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None


class EmbeddingsRequest(msgspec.Struct, forbid_unknown_fields=False):
    """``POST /v1/embeddings`` body."""

    model: str
    input: str | list[str | int | list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: _PositiveInt | None = None
    user: str | None = None


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error object: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def chat_completion(
    *,
    id: str,
    model: str,
    choices: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    created: int | None = None,
    system_fingerprint: str | None = None,
) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    body: dict[str, Any] = {
        "id": id,
        "object": "chat.completion",
        "created": created if created is not None else int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage,
    }
    if system_fingerprint is not None:
        body["system_fingerprint"] = system_fingerprint
    return body


def chat_chunk(
    *,
    id: str,
    model: str,
    created: int,
    choices: list[dict[str, Any]],
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``chat.completion.chunk`` object; a usage chunk has ``choices == []``."""
    chunk: dict[str, Any] = {
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """OpenAI's usage object."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def model_entry(model_id: str, owned_by: str, created: int = 0, **extra: Any) -> dict[str, Any]:
    """One entry of ``GET /v1/models``."""
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by, **extra}
