"""Disclaimers appended to answers: after the text, separated by a blank line, each once."""

from __future__ import annotations

SEPARATOR = "\n\n"


def disclaimer_suffix(disclaimers: list[str], answer_tail: str) -> str:
    """The text to add after an answer ending in ``answer_tail``: the disclaimers it does not already
    end with (a model that wrote one itself does not get it twice). Empty for an empty answer."""
    if not answer_tail.strip():
        return ""
    tail = answer_tail.rstrip()
    todo = [d.strip() for d in dict.fromkeys(disclaimers) if d.strip() and not tail.endswith(d.strip())]
    return SEPARATOR + SEPARATOR.join(todo) if todo else ""


def append_disclaimers(text: str, disclaimers: list[str]) -> str:
    return text + disclaimer_suffix(disclaimers, text[-2000:])
