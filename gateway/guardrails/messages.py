"""The text inside OpenAI chat messages: where it is, and a copy of the messages with some of it replaced.

Text lives in ``content`` as a string, or in ``content`` parts of ``{"type": "text", "text": ...}``
(other parts, such as images, are left alone). Tool-call arguments are not inspected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class TextSlot:
    message: int
    part: int | None  # None: content is a plain string
    role: str
    text: str


def text_slots(messages: list[dict[str, Any]]) -> list[TextSlot]:
    slots = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        role = str(message.get("role", ""))
        content = message.get("content")
        if isinstance(content, str):
            slots.append(TextSlot(i, None, role, content))
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                    slots.append(TextSlot(i, j, role, part["text"]))
    return slots


def replace_texts(messages: list[dict[str, Any]], new_texts: dict[tuple[int, int | None], str]) -> list[dict[str, Any]]:
    """A new list where the slots in ``new_texts`` hold their new text; untouched messages are shared,
    changed ones are shallow copies, and the caller's list and dicts are never modified."""
    if not new_texts:
        return list(messages)
    out = list(messages)
    for (i, j), text in new_texts.items():
        message = dict(out[i]) if out[i] is messages[i] else out[i]
        if j is None:
            message["content"] = text
        else:
            parts = message["content"]
            if parts is messages[i].get("content"):
                parts = list(parts)
            parts[j] = {**parts[j], "text": text}
            message["content"] = parts
        out[i] = message
    return out
