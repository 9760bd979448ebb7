"""Conversation items: a request's input as stored items (each with an id), and a page of them.

``GET /v1/responses/{id}/input_items`` lists items in OpenAI's shapes: a message with string
content gets one ``input_text`` part (``output_text`` for the assistant), images get a
``detail``, and every item an id (``msg_…``, ``fc_…``, ``fco_…``) and a ``status``. The
translation onto chat reads these items as it reads a client's, so a stored conversation is
replayed through the same code as a sent one.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import InvalidRequest
from gateway.responses.protocol import new_id

_ID_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}


def input_items(value: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A request's ``input`` (already validated by the translation) as stored items."""
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    return [_item(raw) for raw in value]


def _item(raw: dict[str, Any]) -> dict[str, Any]:
    kind = raw.get("type") or "message"
    item = {**raw, "type": kind, "id": raw.get("id") or new_id(_ID_PREFIXES.get(kind, "item"))}
    if kind == "message":
        item["content"] = _content(raw["role"], raw["content"])
    if kind != "reasoning":
        item["status"] = raw.get("status") or "completed"
    return item


def _content(role: str, content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if role == "assistant":
            return [{"type": "output_text", "text": content, "annotations": []}]
        return [{"type": "input_text", "text": content}]
    parts = []
    for part in content:
        if part.get("type") == "input_image":
            part = {**part, "detail": part.get("detail") or "auto"}
        elif part.get("type") == "output_text":
            part = {**part, "annotations": part.get("annotations") or []}
        parts.append(part)
    return parts


def output_as_input(output: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A response's output items as the next turn's input items (what ``previous_response_id`` carries)."""
    return [item for item in output if item.get("type") != "message" or item.get("content")]


def page(items: list[dict[str, Any]], *, after: str | None, limit: int, order: str) -> dict[str, Any]:
    """One page of ``input_items`` in OpenAI's list shape (``after`` is the last id of the page before)."""
    if not 1 <= limit <= 100:
        raise InvalidRequest("'limit' must be between 1 and 100.", param="limit")
    if order not in ("asc", "desc"):
        raise InvalidRequest("'order' must be 'asc' or 'desc'.", param="order")
    ordered = items if order == "asc" else items[::-1]
    start = 0
    if after is not None:
        ids = [item.get("id") for item in ordered]
        if after not in ids:
            raise InvalidRequest(f"No input item with id '{after}' in this response.", param="after")
        start = ids.index(after) + 1
    data = ordered[start : start + limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": start + limit < len(ordered),
    }
