"""vLLM's runtime LoRA API, as the gateway uses it to keep every vLLM server's adapters in step.

The server must run with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`` and ``--enable-lora``
(with ``--max-loras`` / ``--max-lora-rank`` to taste). The wire format (vLLM's docs):

- ``POST /v1/load_lora_adapter`` ``{"lora_name": NAME, "lora_path": PATH}`` → 200 with a text
  body; 400 when the name is already loaded or the path is not an adapter;
- ``POST /v1/unload_lora_adapter`` ``{"lora_name": NAME}`` → 200; 404 when it is not loaded;
- ``GET /v1/models``: the base models and every loaded adapter (an adapter's card has
  ``parent`` = its base model and ``root`` = its path).

vLLM keeps loaded adapters in memory only, so a restarted server has none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from backends.errors import BackendUnavailable, UpstreamRejected


@dataclass(frozen=True, slots=True)
class LoadedAdapter:
    name: str
    path: str | None
    base_model: str | None


class VLLMLoraClient:
    """Lists, loads and unloads LoRA adapters on one vLLM server (``base_url`` ends in ``/v1``)."""

    def __init__(self, name: str, base_url: str, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.name = name
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    async def loaded(self) -> list[LoadedAdapter]:
        """The adapters the server holds now (cards of ``/v1/models`` with a ``parent``)."""
        response = await self._call("GET", "/models")
        cards = response.json().get("data") or []
        return [
            LoadedAdapter(card["id"], card.get("root"), card.get("parent"))
            for card in cards
            if isinstance(card, dict) and card.get("parent")
        ]

    async def load(self, lora_name: str, lora_path: str) -> None:
        """``POST /v1/load_lora_adapter``."""
        await self._call("POST", "/load_lora_adapter", {"lora_name": lora_name, "lora_path": lora_path})

    async def unload(self, lora_name: str) -> None:
        """``POST /v1/unload_lora_adapter``; an adapter that is already gone is not an error."""
        try:
            await self._call("POST", "/unload_lora_adapter", {"lora_name": lora_name})
        except UpstreamRejected as error:
            if error.status != 404:
                raise

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"{method} {path}: {type(exc).__name__}", backend=self.name) from None
        if response.status_code >= 500 or response.status_code in (401, 403, 429):
            raise BackendUnavailable(f"{method} {path}: HTTP {response.status_code}", backend=self.name,
                                     status=response.status_code)  # fmt: skip
        if response.status_code >= 400:
            raise UpstreamRejected(_message(response), backend=self.name, status=response.status_code)
        return response


def _message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    except (ValueError, AttributeError):
        pass
    return response.text[:500] or f"HTTP {response.status_code}"
