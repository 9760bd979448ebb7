"""``GET /v1/responses/{id}?stream=true``: a stored response's streaming events, replayed.

The event sequence a live stream sends (see ``stream``), built from the stored ``response``
object with its own item ids: ``response.created`` and ``response.in_progress``, then per
output item ``output_item.added`` … ``output_item.done`` (a message's text as one
``output_text.delta``, a call's arguments as one ``function_call_arguments.delta``), then the
final event for its status (``response.completed``, ``response.incomplete`` or
``response.failed``). ``starting_after`` skips the events up to that sequence number, as on
OpenAI, for a client resuming a stream it lost.
"""

from __future__ import annotations

from typing import Any

_FINAL_EVENTS = {"completed": "response.completed", "incomplete": "response.incomplete", "failed": "response.failed"}


class _Events:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, type: str, **fields: Any) -> None:
        self.events.append({"type": type, **fields, "sequence_number": len(self.events)})


def replay_events(response: dict[str, Any], starting_after: int | None = None) -> list[dict[str, Any]]:
    """The events that stream ``response`` (a stored ``response`` object), after ``starting_after``."""
    out = _Events()
    opening = {**response, "status": "in_progress", "output": [], "usage": None, "error": None}
    opening["incomplete_details"] = None
    out.emit("response.created", response=opening)
    out.emit("response.in_progress", response=opening)
    for index, item in enumerate(response.get("output") or ()):
        kind = item.get("type")
        if kind == "message":
            _message(out, index, item)
        elif kind == "function_call":
            _function_call(out, index, item)
        else:
            out.emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress"})
            out.emit("response.output_item.done", output_index=index, item=item)
    out.emit(_FINAL_EVENTS.get(response.get("status"), "response.completed"), response=response)
    if starting_after is None:
        return out.events
    return [event for event in out.events if event["sequence_number"] > starting_after]


def _message(out: _Events, index: int, item: dict[str, Any]) -> None:
    out.emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "content": []})
    for content_index, part in enumerate(item.get("content") or ()):
        where = {"item_id": item["id"], "output_index": index, "content_index": content_index}
        if part.get("type") == "output_text":
            text = part.get("text") or ""
            out.emit("response.content_part.added", **where, part={**part, "text": ""})
            if text:
                out.emit("response.output_text.delta", **where, delta=text, logprobs=[])
            out.emit("response.output_text.done", **where, text=text, logprobs=[])
        elif part.get("type") == "refusal":
            refusal = part.get("refusal") or ""
            out.emit("response.content_part.added", **where, part={**part, "refusal": ""})
            out.emit("response.refusal.delta", **where, delta=refusal)
            out.emit("response.refusal.done", **where, refusal=refusal)
        else:
            out.emit("response.content_part.added", **where, part=part)
        out.emit("response.content_part.done", **where, part=part)
    out.emit("response.output_item.done", output_index=index, item=item)


def _function_call(out: _Events, index: int, item: dict[str, Any]) -> None:
    arguments = item.get("arguments") or ""
    out.emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "arguments": ""})
    if arguments:
        out.emit("response.function_call_arguments.delta", item_id=item["id"], output_index=index, delta=arguments)
    out.emit(
        "response.function_call_arguments.done",
        item_id=item["id"],
        output_index=index,
        name=item.get("name"),
        arguments=arguments,
    )
    out.emit("response.output_item.done", output_index=index, item=item)
