"""Prices set through the management API (they override the config's for the same backend and model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

import msgspec
from sqlmodel import select

from gateway.errors import InvalidRequest, NotFound
from gateway.storage.database import Database, bump_directory_version
from gateway.storage.models import ModelPrice, utcnow

_Price = Annotated[float, msgspec.Meta(ge=0)]


class PriceSpec(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``PUT /admin/api/prices/{backend}/{model}``."""

    input_per_million: _Price = 0.0
    output_per_million: _Price = 0.0
    per_gpu_second: _Price = 0.0


def price_view(price: ModelPrice) -> dict:
    return {
        "backend": price.backend,
        "model": price.model,
        "input_per_million": price.input_per_million,
        "output_per_million": price.output_per_million,
        "per_gpu_second": price.per_gpu_second,
        "updated_at": price.updated_at.isoformat(),
    }


class PriceService:
    """Stores price overrides; a change reaches every replica with the directory version."""

    def __init__(self, db: Database, catalog: Mapping[str, Sequence[str]]) -> None:
        self.db = db
        self.catalog = catalog

    def list(self) -> list[ModelPrice]:
        with self.db.session() as session:
            return list(session.exec(select(ModelPrice).order_by(ModelPrice.backend, ModelPrice.model)))

    def put(self, backend: str, model: str, spec: PriceSpec) -> ModelPrice:
        if backend not in self.catalog:
            raise InvalidRequest(f"unknown backend {backend!r}; configured: {sorted(self.catalog)}", param="backend")
        with self.db.session() as session:
            price = session.get(ModelPrice, (backend, model)) or ModelPrice(backend=backend, model=model)
            price.input_per_million = spec.input_per_million
            price.output_per_million = spec.output_per_million
            price.per_gpu_second = spec.per_gpu_second
            price.updated_at = utcnow()
            session.add(price)
            bump_directory_version(session)
            session.flush()
            session.refresh(price)
            return price

    def delete(self, backend: str, model: str) -> None:
        with self.db.session() as session:
            price = session.get(ModelPrice, (backend, model))
            if price is None:
                raise NotFound(f"no price is set for {backend}/{model}", param="model")
            session.delete(price)
            bump_directory_version(session)
