"""How many tokens a request will use, estimated before it runs (reserved, then settled).

Prompt tokens come from the backend's own tokenizer when it has one (the in-process MLX
model); otherwise from a documented estimate: 3 tokens of framing, plus per message 4 tokens
and one token per 4 characters of text (tool definitions and calls included), plus 765 per
image part (OpenAI's cost of a 1024×1024 image in high detail). The completion part is the
request's ``max_completion_tokens`` or ``max_tokens`` (or the configured default) times ``n``.
"""

from __future__ import annotations

from typing import Any

import msgspec

IMAGE_TOKENS = 765
_encode = msgspec.json.encode


def _text_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def estimate_messages(messages: list[dict[str, Any]], tools: list | None = None) -> int:
    """The estimate of the prompt's tokens (see the module docstring)."""
    total = 3
    for message in messages:
        total += 4
        content = message.get("content")
        if isinstance(content, str):
            total += _text_tokens(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text":
                    total += _text_tokens(str(part.get("text", "")))
                elif part.get("type") in ("image_url", "input_image", "image"):
                    total += IMAGE_TOKENS
        if message.get("tool_calls"):
            total += _text_tokens(_encode(message["tool_calls"]).decode())
    if tools:
        total += _text_tokens(_encode(tools).decode())
    return total


def completion_reservation(body: dict[str, Any], default: int) -> int:
    """Tokens to reserve for the answer(s)."""
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or default
    n = body.get("n") or 1
    return int(limit) * int(n)


def estimate_embedding_input(value: Any) -> int:
    """Tokens in an embeddings input: counted exactly when given as token ids."""
    if isinstance(value, str):
        return _text_tokens(value)
    if isinstance(value, list):
        if value and all(isinstance(v, int) for v in value):
            return len(value)
        return sum(estimate_embedding_input(v) for v in value)
    return 0
