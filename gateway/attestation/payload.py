"""What an attestation says: the payload (version 1) and the exact definition of "the output".

The payload is a JSON object; its RFC 8785 canonical bytes are what is signed::

    {
      "v": 1,
      "request_id": "req_…",              the gateway's x-request-id
      "tenant": "HQ",                      tenant name
      "user": "alice" | null,              the request's "user" field
      "model": "support-bot",              the alias the client asked for
      "backend": "gpu-1",                  the backend that answered
      "upstream_model": "qwen-7b:lora-a",  the upstream model or LoRA adapter name sent there
      "adapter_sha256": "…" | null,        content hash of the adapter's weights, when known
      "messages_sha256": "…",              SHA-256(JCS(request "messages"))
      "tools_sha256": "…" | null,          SHA-256(JCS(request "tools")), null without tools
      "sampling": {…},                     the request's sampling fields that were set (SAMPLING_KEYS)
      "stream": false,
      "choices": [                         one per choice, by index
        {"index": 0, "finish_reason": "stop",
         "content_sha256": "…",            SHA-256 of the choice's content text (UTF-8)
         "tool_calls_sha256": "…" | null}  SHA-256(JCS([{"name", "arguments"}, …])), null without tool calls
      ],
      "created": "2025-06-01T12:00:00.123456Z",
      "kid": "…",                          the signing key's id (its RFC 7638 thumbprint)
      "prev_hash": "…",                    an audit-chain entry hash committed before signing
      "rag": {"documents": [{"id", "sha256"}], "context_sha256": "…"}   only when RAG context was added
    }

All hashes are lowercase hex SHA-256. ``messages`` are the request's messages exactly as the
client sent them (before guardrails or RAG changed anything), so the client can recompute the hash.

The output of a choice:
- content text: non-streaming, ``choices[i].message.content`` (``null`` → ``""``; a list of parts →
  the concatenated ``text`` of its ``"text"`` parts); streaming, every ``delta.content`` of
  choice ``i`` concatenated in arrival order. Identical for the same answer either way.
- tool calls: ``[{"name": function.name, "arguments": function.arguments}, …]`` in the order of
  ``message.tool_calls`` (streaming: by the deltas' tool-call ``index``, names and arguments
  concatenated); call ids are not covered.
For a single-choice text answer, ``content_sha256`` is simply SHA-256 of the text the user saw.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.attestation.canonical import canonicalize, format_time

__all__ = [
    "PAYLOAD_VERSION",
    "SAMPLING_KEYS",
    "ChoiceOutput",
    "Output",
    "OutputCollector",
    "ToolCall",
    "build_payload",
    "messages_sha256",
]

PAYLOAD_VERSION = 1

SAMPLING_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "seed",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "response_format",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def messages_sha256(messages: Any) -> str:
    """SHA-256 of the RFC 8785 form of the request's ``messages`` array."""
    return _sha256(canonicalize(messages))


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChoiceOutput:
    """One choice's output: its text, its tool calls, and why it ended."""

    index: int
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None

    def content_sha256(self) -> str:
        return _sha256(self.content.encode("utf-8"))

    def tool_calls_sha256(self) -> str | None:
        if not self.tool_calls:
            return None
        return _sha256(canonicalize([{"name": c.name, "arguments": c.arguments} for c in self.tool_calls]))

    def digest(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "finish_reason": self.finish_reason,
            "content_sha256": self.content_sha256(),
            "tool_calls_sha256": self.tool_calls_sha256(),
        }


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content)


@dataclass(frozen=True, slots=True)
class Output:
    """A response's output, choice by choice (sorted by index)."""

    choices: tuple[ChoiceOutput, ...]

    @classmethod
    def from_completion(cls, completion: Mapping[str, Any]) -> Output:
        """From a non-streaming ``chat.completion`` body."""
        choices = []
        for position, choice in enumerate(completion.get("choices") or ()):
            message = choice.get("message") or {}
            calls = tuple(
                ToolCall(
                    str((c.get("function") or {}).get("name") or ""),
                    str((c.get("function") or {}).get("arguments") or ""),
                )
                for c in message.get("tool_calls") or ()
            )
            choices.append(
                ChoiceOutput(
                    choice.get("index", position), _text_of(message.get("content")), calls, choice.get("finish_reason")
                )
            )
        return cls(tuple(sorted(choices, key=lambda c: c.index)))

    @classmethod
    def from_texts(cls, texts: str | Sequence[str]) -> Output:
        """Plain text answers (tool calls and finish reasons unknown): for checking content only."""
        if isinstance(texts, str):
            texts = [texts]
        return cls(tuple(ChoiceOutput(i, t) for i, t in enumerate(texts)))

    @classmethod
    def from_choices(cls, choices: Iterable[ChoiceOutput]) -> Output:
        return cls(tuple(sorted(choices, key=lambda c: c.index)))

    def digests(self) -> list[dict[str, Any]]:
        return [c.digest() for c in self.choices]


@dataclass(slots=True)
class _ChoiceParts:
    content: list[str] = field(default_factory=list)
    names: dict[int, list[str]] = field(default_factory=dict)
    arguments: dict[int, list[str]] = field(default_factory=dict)
    finish_reason: str | None = None


class OutputCollector:
    """Builds the ``Output`` of a stream from its ``chat.completion.chunk`` dicts (``observe`` each one)."""

    __slots__ = ("_choices",)

    def __init__(self) -> None:
        self._choices: dict[int, _ChoiceParts] = {}

    def observe(self, chunk: Mapping[str, Any]) -> None:
        for choice in chunk.get("choices") or ():
            parts = self._choices.get(choice.get("index", 0))
            if parts is None:
                parts = self._choices[choice.get("index", 0)] = _ChoiceParts()
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                parts.content.append(content if isinstance(content, str) else _text_of(content))
            for call in delta.get("tool_calls") or ():
                index = call.get("index", 0)
                function = call.get("function") or {}
                if function.get("name"):
                    parts.names.setdefault(index, []).append(function["name"])
                else:
                    parts.names.setdefault(index, [])
                if function.get("arguments"):
                    parts.arguments.setdefault(index, []).append(function["arguments"])
            if choice.get("finish_reason"):
                parts.finish_reason = choice["finish_reason"]

    def output(self) -> Output:
        choices = []
        for index, parts in self._choices.items():
            calls = tuple(
                ToolCall("".join(parts.names.get(i, ())), "".join(parts.arguments.get(i, ())))
                for i in sorted(set(parts.names) | set(parts.arguments))
            )
            choices.append(ChoiceOutput(index, "".join(parts.content), calls, parts.finish_reason))
        return Output.from_choices(choices)


def build_payload(
    *,
    request_id: str,
    tenant: str,
    model: str,
    backend: str,
    upstream_model: str,
    request: Mapping[str, Any],
    output: Output,
    created: datetime,
    kid: str,
    prev_hash: str,
    adapter_sha256: str | None = None,
    messages_digest: str | None = None,
    rag: Mapping[str, Any] | None = None,
    guardrail_policy_version: int | None = None,
) -> dict[str, Any]:
    """The version-1 payload for one answered request (``request``: the decoded request body).

    ``messages_digest``: ``messages_sha256(...)`` taken earlier, when ``request["messages"]`` has
    since been changed (guardrails, RAG); otherwise it is computed here from ``request``.
    ``rag``: the knowledge documents whose chunks were added as context (``{"documents": [{"id",
    "sha256"}], "context_sha256"}``); the payload has a ``rag`` member only when there were some.
    ``guardrail_policy_version``: the version of the tenant's guardrail policy that screened the
    request (0: the built-in default); absent when guardrails are off.
    """
    tools = request.get("tools")
    user = request.get("user")
    payload = {
        "v": PAYLOAD_VERSION,
        "request_id": request_id,
        "tenant": tenant,
        "user": user if isinstance(user, str) else None,
        "model": model,
        "backend": backend,
        "upstream_model": upstream_model,
        "adapter_sha256": adapter_sha256,
        "messages_sha256": messages_digest or messages_sha256(request.get("messages") or []),
        "tools_sha256": _sha256(canonicalize(tools)) if tools else None,
        "sampling": {k: request[k] for k in SAMPLING_KEYS if request.get(k) is not None},
        "stream": bool(request.get("stream")),
        "choices": output.digests(),
        "created": format_time(created),
        "kid": kid,
        "prev_hash": prev_hash,
    }
    if rag:
        payload["rag"] = dict(rag)
    if guardrail_policy_version is not None:
        payload["guardrail_policy_version"] = guardrail_policy_version
    return payload
