"""The ``response`` object: what a request echoes back, and a ``chat.completion`` translated into it.

A chat completion's first choice becomes the output: its text a ``message`` item with one
``output_text`` part (a ``refusal`` part for a refusal), each tool call a ``function_call``
item (``call_id`` is the chat tool call's id). ``finish_reason`` ``length`` makes the response
``incomplete`` with ``incomplete_details.reason`` ``max_output_tokens`` (``content_filter`` the
same with that reason); anything else is ``completed``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gateway.responses.protocol import (
    ResponsesRequest,
    function_call_item,
    message_item,
    new_id,
    output_text_part,
    refusal_part,
    usage_from_chat,
)

INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


def response_id(request_id: str) -> str:
    """``resp_…`` sharing the request id's suffix, so a response leads to its ledger row and attestation."""
    return "resp_" + request_id.removeprefix("req_")


@dataclass(slots=True)
class ResponseFrame:
    """Everything a ``response`` object says besides its output, status and usage."""

    id: str
    model: str
    echo: dict[str, Any]
    created_at: int = field(default_factory=lambda: int(time.time()))
    previous_response_id: str | None = None
    store: bool = False

    @classmethod
    def for_request(cls, request_id: str, raw: dict[str, Any], request: ResponsesRequest) -> ResponseFrame:
        text = raw.get("text") if isinstance(raw.get("text"), dict) else {}
        echo = {
            "instructions": request.instructions,
            "max_output_tokens": request.max_output_tokens,
            "max_tool_calls": request.max_tool_calls,
            "metadata": request.metadata or {},
            "parallel_tool_calls": True if request.parallel_tool_calls is None else request.parallel_tool_calls,
            "prompt_cache_key": request.prompt_cache_key,
            "safety_identifier": request.safety_identifier,
            "reasoning": raw.get("reasoning"),
            "temperature": request.temperature,
            "text": {**text, "format": text.get("format") or {"type": "text"}},
            "tool_choice": request.tool_choice if request.tool_choice is not None else "auto",
            "tools": request.tools or [],
            "top_logprobs": request.top_logprobs,
            "top_p": request.top_p,
            "truncation": "disabled",
            "user": request.user,
        }
        return cls(id=response_id(request_id), model=request.model, echo=echo)

    def snapshot(
        self,
        status: str,
        output: list[dict[str, Any]],
        *,
        usage: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        incomplete_reason: str | None = None,
    ) -> dict[str, Any]:
        """The ``response`` object in this state."""
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": error,
            "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
            "model": self.model,
            "output": output,
            "previous_response_id": self.previous_response_id,
            "store": self.store,
            "usage": usage,
            **self.echo,
        }


def from_completion(frame: ResponseFrame, completion: dict[str, Any]) -> dict[str, Any]:
    """The finished ``response`` object for a non-streamed ``chat.completion``."""
    frame.model = completion.get("model") or frame.model
    choices = completion.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    incomplete_reason = INCOMPLETE_REASONS.get(choice.get("finish_reason") or "")
    status = "incomplete" if incomplete_reason else "completed"
    output: list[dict[str, Any]] = []
    content: list[dict[str, Any]] = []
    if message.get("content"):
        content.append(output_text_part(_text(message["content"])))
    if message.get("refusal"):
        content.append(refusal_part(message["refusal"]))
    calls = message.get("tool_calls") or []
    if content or not calls:
        content = content or [output_text_part("")]
        output.append(message_item(new_id("msg"), content, status))
    for call in calls:
        function = call.get("function") or {}
        call_id = call.get("id") or new_id("call")
        output.append(
            function_call_item(
                new_id("fc"), call_id, function.get("name") or "", function.get("arguments") or "", "completed"
            )
        )
    usage = usage_from_chat(completion.get("usage"))
    return frame.snapshot(status, output, usage=usage, incomplete_reason=incomplete_reason)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text") or "" for part in content if isinstance(part, dict))
    return ""
