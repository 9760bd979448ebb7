"""Prices per backend and model: the console's (database) first, then the config's, then a fallback.

Cost of one request = prompt tokens × input price + completion tokens × output price (per
million) + upstream seconds × GPU-second price. A model with no price of its own is charged the
configured fallback — GPU-seconds for self-hosted kinds (vLLM, MLX), tokens for API kinds — so
nothing is free by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, select

from gateway.settings import PricingSettings
from gateway.storage.models import ModelPrice

SELF_HOSTED_KINDS = frozenset({"vllm", "mlx"})


@dataclass(frozen=True, slots=True)
class Price:
    input_per_million: float = 0.0
    output_per_million: float = 0.0
    per_gpu_second: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int, upstream_seconds: float) -> float:
        return (
            prompt_tokens * self.input_per_million / 1e6
            + completion_tokens * self.output_per_million / 1e6
            + upstream_seconds * self.per_gpu_second
        )


class PriceBook:
    """Looks up the price of a (backend, model); reloaded with the directory."""

    def __init__(self, settings: PricingSettings, backend_kinds: Mapping[str, str]) -> None:
        self.currency = settings.currency
        self._configured = {
            (p.backend, p.model): Price(p.input_per_million, p.output_per_million, p.per_gpu_second)
            for p in settings.models
        }
        self._fallbacks = {
            name: Price(per_gpu_second=settings.self_hosted_per_gpu_second)
            if kind in SELF_HOSTED_KINDS
            else Price(settings.api_input_per_million, settings.api_output_per_million)
            for name, kind in backend_kinds.items()
        }
        self._overrides: dict[tuple[str, str], Price] = {}

    def load_overrides(self, session: Session) -> None:
        """Read the prices set in the console or API (called inside the directory's reload)."""
        self._overrides = {
            (p.backend, p.model): Price(p.input_per_million, p.output_per_million, p.per_gpu_second)
            for p in session.exec(select(ModelPrice))
        }

    def price(self, backend: str, model: str) -> Price:
        return self.lookup(backend, model)[0]

    def lookup(
        self, backend: str, model: str, overrides: Mapping[tuple[str, str], Price] | None = None
    ) -> tuple[Price, str]:
        """The price and where it comes from: ``console`` (an override), ``config`` or ``default`` (the fallback).

        ``overrides`` replaces the loaded overrides (the console passes the database's current ones)."""
        tables = ((self._overrides if overrides is None else overrides, "console"), (self._configured, "config"))
        for table, source in tables:
            found = table.get((backend, model)) or table.get((backend, "*"))
            if found is not None:
                return found, source
        return self._fallbacks.get(backend, Price()), "default"

    def configured_models(self, backend: str) -> list[str]:
        """Models the config prices for ``backend`` (``*`` included)."""
        return sorted(m for b, m in self._configured if b == backend)

    def cost(self, backend: str, model: str, prompt_tokens: int, completion_tokens: int, seconds: float) -> float:
        return self.price(backend, model).cost(prompt_tokens, completion_tokens, seconds)
