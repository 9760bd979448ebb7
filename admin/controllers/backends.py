"""Backends: health, circuit state, latency and upstream models; a button that sends a health probe."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from admin.audit_trail import record
from admin.auth import requires_role
from admin.services import ConsoleServices

_LIST_TIMEOUT_SECONDS = 3.0


def backend_rows(console: ConsoleServices) -> list[dict[str, Any]]:
    pool = console.services.pool
    report = pool.report()
    stats = console.ledger.backend_stats(datetime.now(UTC) - timedelta(hours=1))
    rows = []
    for name, backend in pool.backends.items():
        rows.append(
            {
                "name": name,
                "kind": backend.kind,
                "base_url": getattr(backend, "base_url", None) or "",
                "models": list(backend.models),
                "up": report[name]["up"],
                "circuit": report[name]["circuit"],
                "stats": stats.get(name, {"requests": 0, "errors": 0, "p50": None, "p99": None}),
                "can_list": hasattr(backend, "list_models"),
            }
        )
    return rows


class BackendsController(Controller):
    path = "/backends"
    guards = [requires_role("admin")]

    @get("/", sync_to_thread=True)
    def index(self, console: NamedDependency[ConsoleServices]) -> Template:
        return Template(template_name="backends.html", context={"active": "backends", "rows": backend_rows(console)})

    @post("/{name:str}/test", status_code=200)
    async def test(self, console: NamedDependency[ConsoleServices], request: Request, name: FromPath[str]) -> Template:
        backend = console.services.pool.backends.get(name)
        if backend is None:
            raise NotFoundException(f"There is no backend {name!r}.")
        started = time.perf_counter()
        up = await console.services.pool.check(backend)
        probe = {"up": up, "ms": (time.perf_counter() - started) * 1000, "at": datetime.now(UTC)}
        await anyio.to_thread.run_sync(lambda: record(console, request.user, "backend.probe", f"backend:{name}", up=up))
        rows = await anyio.to_thread.run_sync(backend_rows, console)
        row = next(r for r in rows if r["name"] == name)
        return Template(template_name="_backend_row.html", context={"row": row, "probe": probe})

    @get("/{name:str}/models")
    async def upstream_models(self, console: NamedDependency[ConsoleServices], name: FromPath[str]) -> Template:
        backend = console.services.pool.backends.get(name)
        if backend is None:
            raise NotFoundException(f"There is no backend {name!r}.")
        models, error = None, None
        try:
            models = await asyncio.wait_for(backend.list_models(), _LIST_TIMEOUT_SECONDS)
        except AttributeError:
            error = "this kind of backend does not list its models"
        except Exception as exc:  # an upstream that does not answer is shown, not raised
            error = f"{type(exc).__name__}: {exc}"[:200] or "no answer"
        return Template(
            template_name="_upstream_models.html",
            context={"models": models, "error": error, "configured": list(backend.models)},
        )
