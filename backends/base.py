"""The interface every model backend implements, as small as httpx's transport.

A backend receives an OpenAI-shaped request body (a ``dict`` whose ``model`` is already the
upstream's model or adapter name) and answers in OpenAI's shapes: a ``chat.completion``
dict, or an async iterator of ``chat.completion.chunk`` dicts. Each backend owns its own
translation to and from its upstream's wire format.

Streams end with a usage chunk (``choices: []``, ``usage`` set) whenever the upstream reports
usage; the gateway decides whether the client sees it. Any failure before the first chunk is
raised from the iterator's first ``__anext__``, so the caller can still fall back.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from backends.errors import UnsupportedOperation


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Deadlines for one upstream call, in seconds."""

    connect: float = 5.0
    read: float = 120.0


class Backend(abc.ABC):
    """A model server the gateway can route to."""

    kind: str = ""

    def __init__(self, name: str, models: tuple[str, ...]) -> None:
        self.name = name
        self.models = models

    @abc.abstractmethod
    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """Run a non-streaming chat completion and return OpenAI's ``chat.completion`` dict."""

    @abc.abstractmethod
    def chat_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Run a streaming chat completion, yielding OpenAI ``chat.completion.chunk`` dicts."""

    async def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        """Return OpenAI's embeddings response; backends without embeddings refuse."""
        raise UnsupportedOperation(f"backend {self.name!r} ({self.kind}) does not serve embeddings", backend=self.name)

    @abc.abstractmethod
    async def health(self) -> None:
        """Return when the upstream answers; raise ``BackendUnavailable`` when it does not."""

    async def start(self) -> None:
        """Prepare long-lived resources (called once when the app starts)."""

    async def aclose(self) -> None:
        """Release connections and other resources."""

    def count_prompt_tokens(self, body: dict[str, Any]) -> int | None:
        """The prompt's exact token count when this backend knows the model's tokenizer, else ``None``."""
        return None

    def describe_model(self, model: str) -> dict[str, Any]:
        """Extra fields for this model's entry in ``GET /v1/models``."""
        return {"owned_by": self.name}
