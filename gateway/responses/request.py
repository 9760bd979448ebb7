"""A Responses API request turned into the chat completions body the rest of the gateway runs.

- ``input`` as a string is one user message; as a list, each item becomes a chat message:
  ``message`` items keep their role (``developer`` becomes ``system``, which every chat
  backend understands), ``input_text`` parts become ``text`` parts, ``input_image`` parts
  ``image_url`` parts; assistant messages become plain text; ``function_call`` items become
  ``tool_calls`` of one assistant message (joined to the assistant message just before, if
  any); ``function_call_output`` items become ``tool`` messages. ``reasoning`` items are
  dropped (chat backends cannot take them back).
- ``instructions`` is a ``system`` message placed first.
- function ``tools`` (flat ``{"type": "function", "name", ...}``) become chat tools
  (``{"type": "function", "function": {...}}``); ``tool_choice`` maps the same way, and
  ``allowed_tools`` narrows the tools sent to the listed functions.
- ``text.format`` ``json_schema`` / ``json_object`` becomes ``response_format``.
- ``temperature``, ``top_p``, ``parallel_tool_calls`` and ``user`` are passed as they are;
  ``max_output_tokens`` becomes ``max_completion_tokens``; ``reasoning.effort`` becomes
  ``reasoning_effort``; unknown top-level fields are passed through (as on chat completions),
  except ``messages`` and ``n``.
- ``metadata`` is echoed on the response, never sent upstream. ``store`` and
  ``previous_response_id`` are the service's (the conversation is rebuilt before translation).
  ``include``, ``service_tier``, ``max_tool_calls``, ``prompt_cache_key``, ``safety_identifier``,
  ``stream_options``, ``top_logprobs`` and ``text.verbosity`` are accepted and ignored.

Refused with a 400 that names the parameter: ``conversation`` objects, ``background``,
``prompt`` templates, ``truncation: "auto"``, built-in tools (``web_search``, ``file_search``,
``mcp``, …), ``item_reference`` and other item types, ``input_file`` parts and images given
by ``file_id``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from gateway.errors import InvalidRequest
from gateway.responses.protocol import (
    REQUEST_FIELDS,
    ContentPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputFile,
    InputImage,
    InputText,
    MessageItem,
    OutputText,
    Refusal,
    ResponsesRequest,
    TextFormatJSONObject,
    TextFormatJSONSchema,
)
from gateway.validation import check

S = TypeVar("S", bound=msgspec.Struct)

_ITEM_SCHEMAS: dict[str, type[msgspec.Struct]] = {
    "message": MessageItem,
    "function_call": FunctionCallItem,
    "function_call_output": FunctionCallOutputItem,
}
_SKIPPED_ITEMS = frozenset({"reasoning"})
_TOOL_CHOICE_MODES = frozenset({"none", "auto", "required"})
_NOT_PASSED = frozenset({"messages", "n"})  # chat fields that would change the shape of the answer


def _refuse(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="unsupported_parameter")


def check_at(data: Any, schema: type[S], where: str) -> S:
    """``check`` for a value nested at ``where`` (``input[2]``): the 400 names the full path."""
    if not isinstance(data, dict):
        raise InvalidRequest(f"Invalid value for '{where}': expected an object.", param=where)
    try:
        return check(data, schema)
    except InvalidRequest as error:
        inner = error.param
        param = where if not inner else f"{where}{inner}" if inner.startswith("[") else f"{where}.{inner}"
        _, _, reason = error.message.partition("': ")
        raise InvalidRequest(f"Invalid value for '{param}': {reason or error.message}", param=param) from None


def refuse_unsupported(request: ResponsesRequest) -> None:
    """400 for the features this gateway does not serve."""
    if request.conversation is not None:
        raise _refuse(
            "conversation",
            "conversation objects are not supported by this gateway; use previous_response_id to continue one.",
        )
    if request.background:
        raise _refuse("background", "background responses are not supported by this gateway.")
    if request.prompt is not None:
        raise _refuse("prompt", "prompt templates are not supported by this gateway.")
    if request.truncation == "auto":
        raise _refuse("truncation", "truncation 'auto' is not supported; leave it out or send 'disabled'.")
    if isinstance(request.input, list) and not request.input:
        raise InvalidRequest("'input' must not be empty.", param="input")


def chat_body(raw: dict[str, Any], request: ResponsesRequest) -> dict[str, Any]:
    """The chat completions body for a validated Responses request (``raw`` is its decoded JSON)."""
    refuse_unsupported(request)
    body: dict[str, Any] = {k: v for k, v in raw.items() if k not in REQUEST_FIELDS and k not in _NOT_PASSED}
    body["model"] = request.model
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    messages.extend(_messages(request.input))
    body["messages"] = messages
    tools = _tools(request.tools)
    tools, tool_choice = _tool_choice(request.tool_choice, tools)
    if tools:
        body["tools"] = tools
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.text is not None:
        response_format = _response_format(request.text.format)
        if response_format is not None:
            body["response_format"] = response_format
    for name in ("temperature", "top_p", "user"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.max_output_tokens is not None:
        body["max_completion_tokens"] = request.max_output_tokens
    if request.reasoning is not None and request.reasoning.effort is not None:
        body["reasoning_effort"] = request.reasoning.effort
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


# ---------------------------------------------------------------- input


def _messages(value: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    messages: list[dict[str, Any]] = []
    for index, raw in enumerate(value):
        where = f"input[{index}]"
        kind = raw.get("type") or ("message" if "role" in raw else None)
        kind = kind if isinstance(kind, str) else repr(kind)
        if kind in _SKIPPED_ITEMS:
            continue
        schema = _ITEM_SCHEMAS.get(kind)
        if schema is None:
            raise _refuse(
                f"{where}.type",
                f"{where}: input items of type {kind!r} are not supported by this gateway; "
                "send 'message', 'function_call' or 'function_call_output' items.",
            )
        item = check_at(raw, schema, where)
        if isinstance(item, MessageItem):
            messages.append(_message(item, where))
        elif isinstance(item, FunctionCallItem):
            _append_call(messages, item)
        else:
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": _tool_output(item, where)})
    return messages


def _message(item: MessageItem, where: str) -> dict[str, Any]:
    role = "system" if item.role == "developer" else item.role
    if isinstance(item.content, str):
        return {"role": role, "content": item.content}
    if role == "user":
        return {
            "role": role,
            "content": [_user_part(part, f"{where}.content[{j}]") for j, part in enumerate(item.content)],
        }
    return {"role": role, "content": _plain_text(item.content, f"{where}.content")}


def _user_part(part: ContentPart, where: str) -> dict[str, Any]:
    if isinstance(part, (InputText, OutputText)):
        return {"type": "text", "text": part.text}
    if isinstance(part, Refusal):
        return {"type": "text", "text": part.refusal}
    if isinstance(part, InputImage):
        if not part.image_url:
            raise _refuse(
                f"{where}.image_url",
                f"{where}: images must be given by 'image_url' (an http(s) or base64 data: URL); "
                "file_id is not supported.",
            )
        image: dict[str, Any] = {"url": part.image_url}
        if part.detail in ("low", "high", "auto"):
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    assert isinstance(part, InputFile)
    raise _refuse(f"{where}.type", f"{where}: input_file content is not supported by this gateway.")


def _plain_text(parts: list[ContentPart], where: str) -> str:
    texts = []
    for j, part in enumerate(parts):
        if isinstance(part, (InputText, OutputText)):
            texts.append(part.text)
        elif isinstance(part, Refusal):
            texts.append(part.refusal)
        else:
            raise _refuse(f"{where}[{j}].type", f"{where}[{j}]: only text content is allowed here.")
    return "".join(texts)


def _append_call(messages: list[dict[str, Any]], item: FunctionCallItem) -> None:
    call = {"id": item.call_id, "type": "function", "function": {"name": item.name, "arguments": item.arguments}}
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant" and isinstance(last.get("content"), (str, type(None))):
        last.setdefault("tool_calls", []).append(call)
        return
    messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _tool_output(item: FunctionCallOutputItem, where: str) -> str:
    if isinstance(item.output, str):
        return item.output
    return _plain_text(item.output, f"{where}.output")


# ---------------------------------------------------------------- tools


def _tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    out = []
    for index, raw in enumerate(tools or ()):
        where = f"tools[{index}]"
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind != "function":
            raise _refuse(
                f"{where}.type",
                f"{where}: tools of type {kind!r} are not supported by this gateway; only 'function' tools are.",
            )
        tool = check_at(raw, FunctionTool, where)
        function: dict[str, Any] = {"name": tool.name}
        if tool.description is not None:
            function["description"] = tool.description
        if tool.parameters is not None:
            function["parameters"] = tool.parameters
        if tool.strict is not None:
            function["strict"] = tool.strict
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(
    choice: str | dict[str, Any] | None, tools: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], str | dict[str, Any] | None]:
    if choice is None:
        return tools, None
    if isinstance(choice, str):
        if choice not in _TOOL_CHOICE_MODES:
            raise InvalidRequest(
                f"Invalid value for 'tool_choice': {choice!r}; expected 'none', 'auto' or 'required'.",
                param="tool_choice",
            )
        return tools, choice
    names = {tool["function"]["name"] for tool in tools}
    kind = choice.get("type")
    if kind == "function":
        name = choice.get("name")
        if not isinstance(name, str) or name not in names:
            raise InvalidRequest(
                f"tool_choice names function {name!r}, which is not among the request's tools.",
                param="tool_choice.name",
            )
        return tools, {"type": "function", "function": {"name": name}}
    if kind == "allowed_tools":
        mode = choice.get("mode")
        if mode not in ("auto", "required"):
            raise InvalidRequest("tool_choice.mode must be 'auto' or 'required'.", param="tool_choice.mode")
        allowed = set()
        for j, entry in enumerate(choice.get("tools") or []):
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str) or entry.get("type") != "function" or name not in names:
                raise InvalidRequest(
                    f"tool_choice.tools[{j}]: allowed_tools may only list function tools that the request defines.",
                    param=f"tool_choice.tools[{j}]",
                )
            allowed.add(name)
        return [tool for tool in tools if tool["function"]["name"] in allowed], mode
    raise _refuse(
        "tool_choice.type",
        f"tool_choice of type {kind!r} is not supported by this gateway; use a mode, a function or allowed_tools.",
    )


def _response_format(fmt: Any) -> dict[str, Any] | None:
    if isinstance(fmt, TextFormatJSONObject):
        return {"type": "json_object"}
    if isinstance(fmt, TextFormatJSONSchema):
        spec: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema}
        if fmt.description is not None:
            spec["description"] = fmt.description
        if fmt.strict is not None:
            spec["strict"] = fmt.strict
        return {"type": "json_schema", "json_schema": spec}
    return None
