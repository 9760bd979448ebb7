"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from litestar import Response, get
from litestar.di import NamedDependency
from sqlalchemy import text

from gateway.services import Services


@get("/healthz", include_in_schema=False)
async def healthz() -> dict:
    """The process is alive."""
    return {"status": "ok"}


def _ping(services: NamedDependency[Services]) -> None:
    with services.db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@get("/readyz", include_in_schema=False)
async def readyz(services: NamedDependency[Services]) -> Response:
    """Ready when at least one backend is up and tenants are known (from storage or the snapshot)."""
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping, services), 2.0)
        storage = "ok"
    except Exception:
        storage = "unreachable"
    backends = services.pool.report()
    known_tenants = services.directory.snapshot.version >= 0
    ready = known_tenants and any(b["up"] for b in backends.values())
    body = {
        "status": "ready" if ready else "not_ready",
        "storage": storage,
        "serving_from_snapshot": storage != "ok" and known_tenants,
        "backends": backends,
    }
    return Response(body, status_code=200 if ready else 503)


@get("/metrics", include_in_schema=False)
async def metrics(services: NamedDependency[Services]) -> Response:
    return Response(services.metrics.render(), media_type=services.metrics.content_type)
