"""Translation between OpenAI chat completions and Anthropic's Messages API.

Pure functions and one stream-state object; no I/O. ``backends.anthropic`` does the HTTP.

Requests (OpenAI → Anthropic):

- ``system`` and ``developer`` messages are lifted, in order, into the top-level ``system``
  string (joined by blank lines); Anthropic has no system role inside ``messages``.
- ``tool`` messages become ``tool_result`` blocks in a user turn; consecutive turns of the same
  role are merged, with ``tool_result`` blocks first, because Anthropic requires alternation.
- ``temperature`` is clamped from OpenAI's 0–2 to Anthropic's 0–1 (values above 1 become 1).
- ``max_completion_tokens`` wins over ``max_tokens``; with neither, the backend's default is
  sent, since Anthropic requires ``max_tokens``.
- ``response_format`` ``json_object`` / ``json_schema`` has no Anthropic equivalent here; an
  instruction (with the schema, when given) is appended to ``system``. Best effort only: the
  output is not validated against the schema.
- ``n > 1`` is refused; ``frequency_penalty``, ``presence_penalty``, ``logit_bias``, ``seed``,
  ``logprobs`` and ``stream_options`` have no Anthropic counterpart and are dropped.
"""

from __future__ import annotations

import json
import time
from typing import Any

from backends.errors import UpstreamRejected
from backends.openai_protocol import chat_chunk, chat_completion

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
JSON_OBJECT_INSTRUCTION = "Respond with one valid JSON object and nothing else: no prose, no Markdown code fences."


def _reject(message: str, param: str | None = "messages") -> UpstreamRejected:
    return UpstreamRejected(message, status=400, type="invalid_request_error", param=param)


# ---------------------------------------------------------------- requests


def to_anthropic_request(body: dict[str, Any], *, default_max_tokens: int, stream: bool) -> dict[str, Any]:
    """Translate an OpenAI chat completion request into an Anthropic Messages request."""
    if (body.get("n") or 1) > 1:
        raise _reject("this backend returns one choice per request; n must be 1", param="n")
    system, messages = _split_messages(body.get("messages") or [])
    system.extend(_response_format_instructions(body.get("response_format")))
    request: dict[str, Any] = {
        "model": body["model"],
        "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens,
        "messages": messages,
    }
    if system:
        request["system"] = "\n\n".join(system)
    request.update(_sampling(body))
    request.update(_tooling(body))
    if body.get("user"):
        request["metadata"] = {"user_id": body["user"]}
    if stream:
        request["stream"] = True
    return request


def _sampling(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if body.get("temperature") is not None:
        out["temperature"] = min(max(float(body["temperature"]), 0.0), 1.0)
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else [s for s in stop if s]
    return out


def _split_messages(messages: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            text = _plain_text(message.get("content"), index)
            if text:
                system.append(text)
            continue
        if role == "user":
            _append_turn(turns, "user", _user_blocks(message.get("content"), index))
        elif role == "assistant":
            _append_turn(turns, "assistant", _assistant_blocks(message, index))
        elif role == "tool":
            _append_turn(turns, "user", [_tool_result_block(message, index)])
        else:
            raise _reject(f"messages[{index}]: role {role!r} is not supported by Anthropic backends")
    return system, turns


def _append_turn(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        merged = turns[-1]["content"] + blocks
        turns[-1]["content"] = sorted(merged, key=lambda block: block["type"] != "tool_result")
    else:
        turns.append({"role": role, "content": blocks})


def _plain_text(content: Any, index: int) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for part in content:
        if part.get("type") not in ("text", "refusal"):
            raise _reject(f"messages[{index}]: only text content is allowed here, got {part.get('type')!r}")
        texts.append(part.get("text") or part.get("refusal") or "")
    return "\n".join(t for t in texts if t)


def _user_blocks(content: Any, index: int) -> list[dict[str, Any]]:
    if content is None or isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            blocks.append(_image_block(part.get("image_url"), index))
        else:
            raise _reject(f"messages[{index}]: content part type {kind!r} is not supported by Anthropic backends")
    return blocks


def _image_block(image_url: Any, index: int) -> dict[str, Any]:
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    if not isinstance(url, str) or not url:
        raise _reject(f"messages[{index}]: image_url.url is required")
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    if not url.startswith("data:"):
        raise _reject(f"messages[{index}]: image_url.url must be an http(s) URL or a base64 data: URL")
    header, _, data = url[len("data:") :].partition(",")
    media_type, _, encoding = header.partition(";")
    if encoding != "base64" or not data:
        raise _reject(f"messages[{index}]: data: URLs must be base64-encoded")
    if media_type not in IMAGE_MEDIA_TYPES:
        raise _reject(
            f"messages[{index}]: image type {media_type!r} is not supported; use {', '.join(IMAGE_MEDIA_TYPES)}"
        )
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _assistant_blocks(message: dict[str, Any], index: int) -> list[dict[str, Any]]:
    text = _plain_text(message.get("content"), index)
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": _tool_arguments(function.get("arguments"), index),
            }
        )
    return blocks


def _tool_arguments(arguments: Any, index: int) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        raise _reject(f"messages[{index}]: tool call arguments are not valid JSON") from None
    if not isinstance(value, dict):
        raise _reject(f"messages[{index}]: tool call arguments must be a JSON object")
    return value


def _tool_result_block(message: dict[str, Any], index: int) -> dict[str, Any]:
    if not message.get("tool_call_id"):
        raise _reject(f"messages[{index}]: tool messages need a tool_call_id")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message["tool_call_id"]}
    text = _plain_text(message.get("content"), index)
    if text:
        block["content"] = text
    return block


def _tooling(body: dict[str, Any]) -> dict[str, Any]:
    tools = body.get("tools")
    if not tools:
        return {}
    out: dict[str, Any] = {"tools": [_tool(tool, i) for i, tool in enumerate(tools)]}
    choice = _tool_choice(body.get("tool_choice"))
    if body.get("parallel_tool_calls") is False and (choice is None or choice["type"] != "none"):
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    if choice is not None:
        out["tool_choice"] = choice
    return out


def _tool(tool: dict[str, Any], index: int) -> dict[str, Any]:
    function = tool.get("function")
    if tool.get("type") != "function" or not isinstance(function, dict) or not function.get("name"):
        raise _reject(f"tools[{index}]: only function tools with a name are supported", param="tools")
    out = {"name": function["name"], "input_schema": function.get("parameters") or {"type": "object", "properties": {}}}
    if function.get("description"):
        out["description"] = function["description"]
    return out


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict) and choice.get("type") == "function" and (choice.get("function") or {}).get("name"):
        return {"type": "tool", "name": choice["function"]["name"]}
    raise _reject(f"tool_choice {choice!r} is not supported", param="tool_choice")


def _response_format_instructions(response_format: Any) -> list[str]:
    if not isinstance(response_format, dict):
        return []
    kind = response_format.get("type")
    if kind == "json_object":
        return [JSON_OBJECT_INSTRUCTION]
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = json.dumps(spec.get("schema") or {}, separators=(",", ":"))
        return [f"{JSON_OBJECT_INSTRUCTION} The object must conform to this JSON Schema: {schema}"]
    return []


# ---------------------------------------------------------------- responses


def completion_id(message_id: str) -> str:
    """OpenAI-style id for an Anthropic message id (the Anthropic id stays readable in it)."""
    return f"chatcmpl-{message_id}"


def finish_reason(stop_reason: str | None) -> str:
    """OpenAI ``finish_reason`` for an Anthropic ``stop_reason``."""
    return FINISH_REASONS.get(stop_reason or "end_turn", "stop")


def to_openai_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """OpenAI usage; cache writes and reads count as prompt tokens, reads also as cached."""
    cache_read = usage.get("cache_read_input_tokens") or 0
    prompt = (usage.get("input_tokens") or 0) + (usage.get("cache_creation_input_tokens") or 0) + cache_read
    completion = usage.get("output_tokens") or 0
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cache_read:
        out["prompt_tokens_details"] = {"cached_tokens": cache_read}
    return out


def to_openai_completion(message: dict[str, Any]) -> dict[str, Any]:
    """Translate an Anthropic ``message`` response into a ``chat.completion`` dict."""
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for block in message.get("content") or []:
        if block.get("type") == "text":
            texts.append(block.get("text") or "")
        elif block.get("type") == "tool_use":
            tool_calls.append(
                {
                    "id": block["id"],
                    "type": "function",
                    "function": {"name": block["name"], "arguments": json.dumps(block.get("input") or {})},
                }
            )
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not tool_calls else None}
    if tool_calls:
        reply["tool_calls"] = tool_calls
    choice = {
        "index": 0,
        "message": reply,
        "logprobs": None,
        "finish_reason": finish_reason(message.get("stop_reason")),
    }
    return chat_completion(
        id=completion_id(message.get("id") or ""),
        model=message.get("model") or "",
        choices=[choice],
        usage=to_openai_usage(message.get("usage") or {}),
    )


class StreamTranslator:
    """Turns Anthropic stream events into ``chat.completion.chunk`` dicts, one event at a time.

    ``feed`` returns the chunks an event produces: the role chunk on ``message_start``,
    content and tool-call deltas as they come, and the finish chunk and the usage chunk
    (``choices == []``) on ``message_stop``, after which ``done`` is true.
    """

    def __init__(self, fallback_model: str) -> None:
        self.id = completion_id("")
        self.model = fallback_model
        self.created = int(time.time())
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.done = False
        self._tool_index: dict[int, int] = {}
        self._tool_has_arguments: dict[int, bool] = {}

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Chunks for one decoded Anthropic event (``ping`` and unknown events give none)."""
        handler = getattr(self, f"_on_{event.get('type')}", None)
        return handler(event) if handler else []

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return chat_chunk(id=self.id, model=self.model, created=self.created, choices=[choice])

    def _tool_delta(self, block_index: int, call: dict[str, Any]) -> dict[str, Any]:
        return self._chunk({"tool_calls": [{"index": self._tool_index[block_index], **call}]})

    def _on_message_start(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        message = event.get("message") or {}
        self.id = completion_id(message.get("id") or "")
        self.model = message.get("model") or self.model
        self.usage = dict(message.get("usage") or {})
        return [self._chunk({"role": "assistant", "content": ""})]

    def _on_content_block_start(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        block = event.get("content_block") or {}
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if block.get("type") != "tool_use":
            return []
        index = event["index"]
        self._tool_index[index] = len(self._tool_index)
        self._tool_has_arguments[index] = False
        call = {"id": block["id"], "type": "function", "function": {"name": block["name"], "arguments": ""}}
        return [self._tool_delta(index, call)]

    def _on_content_block_delta(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        index = event.get("index")
        if delta.get("type") == "input_json_delta" and delta.get("partial_json") and index in self._tool_index:
            self._tool_has_arguments[index] = True
            return [self._tool_delta(index, {"function": {"arguments": delta["partial_json"]}})]
        return []

    def _on_content_block_stop(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        index = event.get("index")
        if index in self._tool_index and not self._tool_has_arguments[index]:
            self._tool_has_arguments[index] = True
            return [self._tool_delta(index, {"function": {"arguments": "{}"}})]
        return []

    def _on_message_delta(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
        self.usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        return []

    def _on_message_stop(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self.done = True
        finish = self._chunk({}, finish_reason(self.stop_reason))
        usage_chunk = chat_chunk(
            id=self.id, model=self.model, created=self.created, choices=[], usage=to_openai_usage(self.usage)
        )
        return [finish, usage_chunk]
