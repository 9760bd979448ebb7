"""The Responses API wire format (``POST /v1/responses``), modelled in one place.

Request structs validate what clients send, in the order of OpenAI's reference; unknown
top-level fields are allowed (they are passed on to the chat upstream, as on chat
completions). Input items and content parts are checked one by one so that a 400 names the
exact field (``input[2].call_id``). Builders produce the shapes the official ``openai`` SDK
parses: the ``response`` object, its output items and its usage.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

import msgspec

_Temperature = Annotated[float, msgspec.Meta(ge=0, le=2)]
_Probability = Annotated[float, msgspec.Meta(ge=0, le=1)]
_PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
_MetadataKey = Annotated[str, msgspec.Meta(max_length=64)]
_MetadataValue = Annotated[str, msgspec.Meta(max_length=512)]
Metadata = Annotated[dict[_MetadataKey, _MetadataValue], msgspec.Meta(max_length=16)]
_FormatName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


# ---------------------------------------------------------------- text.format


class TextFormatText(msgspec.Struct, tag_field="type", tag="text", forbid_unknown_fields=False):
    """Plain text output (the default)."""


class TextFormatJSONObject(msgspec.Struct, tag_field="type", tag="json_object", forbid_unknown_fields=False):
    """The older JSON mode: any valid JSON object."""


class TextFormatJSONSchema(msgspec.Struct, tag_field="type", tag="json_schema", forbid_unknown_fields=False):
    """Structured output against a JSON schema."""

    name: _FormatName
    schema: dict[str, Any]
    description: str | None = None
    strict: bool | None = None


class TextConfig(msgspec.Struct, forbid_unknown_fields=False):
    format: TextFormatText | TextFormatJSONObject | TextFormatJSONSchema | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(msgspec.Struct, forbid_unknown_fields=False):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None


# ---------------------------------------------------------------- the request


class ResponsesRequest(msgspec.Struct, forbid_unknown_fields=False):
    """``POST /v1/responses`` body; ``input`` items and ``tools`` are checked separately."""

    model: str
    input: str | list[dict[str, Any]]
    background: bool | None = None
    conversation: str | dict[str, Any] | None = None
    include: list[str] | None = None
    instructions: str | None = None
    max_output_tokens: _PositiveInt | None = None
    max_tool_calls: _PositiveInt | None = None
    metadata: Metadata | None = None
    parallel_tool_calls: bool | None = None
    previous_response_id: str | None = None
    prompt: dict[str, Any] | None = None
    prompt_cache_key: str | None = None
    reasoning: ReasoningConfig | None = None
    safety_identifier: str | None = None
    service_tier: str | None = None
    store: bool | None = None
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
    temperature: _Temperature | None = None
    text: TextConfig | None = None
    tool_choice: str | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    top_logprobs: Annotated[int, msgspec.Meta(ge=0, le=20)] | None = None
    top_p: _Probability | None = None
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = None


REQUEST_FIELDS = frozenset(ResponsesRequest.__struct_fields__)


# ---------------------------------------------------------------- input items


class InputText(msgspec.Struct, tag_field="type", tag="input_text", forbid_unknown_fields=False):
    text: str


class InputImage(msgspec.Struct, tag_field="type", tag="input_image", forbid_unknown_fields=False):
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto", "original"] | None = None


class InputFile(msgspec.Struct, tag_field="type", tag="input_file", forbid_unknown_fields=False):
    file_id: str | None = None
    file_data: str | None = None
    file_url: str | None = None
    filename: str | None = None


class OutputText(msgspec.Struct, tag_field="type", tag="output_text", forbid_unknown_fields=False):
    """Assistant text sent back as input (a previous turn's output)."""

    text: str


class Refusal(msgspec.Struct, tag_field="type", tag="refusal", forbid_unknown_fields=False):
    refusal: str


ContentPart = InputText | InputImage | InputFile | OutputText | Refusal


class MessageItem(msgspec.Struct, forbid_unknown_fields=False):
    """A message: ``EasyInputMessage`` (``type`` may be left out) or an earlier output message."""

    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]
    type: Literal["message"] = "message"


class FunctionCallItem(msgspec.Struct, forbid_unknown_fields=False):
    """A function call the model made in an earlier turn."""

    call_id: str
    name: str
    arguments: str
    type: Literal["function_call"] = "function_call"


class FunctionCallOutputItem(msgspec.Struct, forbid_unknown_fields=False):
    """The client's result for a function call."""

    call_id: str
    output: str | list[ContentPart]
    type: Literal["function_call_output"] = "function_call_output"


class FunctionTool(msgspec.Struct, tag_field="type", tag="function", forbid_unknown_fields=False):
    """A function tool, in the Responses API's flat shape."""

    name: str
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


# ---------------------------------------------------------------- builders


def new_id(prefix: str) -> str:
    """An id like OpenAI's: ``msg_…``, ``fc_…``, ``resp_…``."""
    return f"{prefix}_{secrets.token_hex(16)}"


def output_text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(refusal: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": refusal}


def message_item(item_id: str, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
    """An assistant ``message`` output item."""
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    """A ``function_call`` output item."""
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def usage_from_chat(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """The Responses usage object for a chat completion's usage."""
    if not usage:
        return None
    input_tokens = int(usage.get("prompt_tokens") or 0)
    output_tokens = int(usage.get("completion_tokens") or 0)
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": int(usage.get("total_tokens") or input_tokens + output_tokens),
    }
