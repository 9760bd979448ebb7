"""Dashboard: requests, tokens, cost, errors, fallbacks and p50/p99 latency over time, per tenant."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from admin.auth import requires_role
from admin.charts import compact, line_chart
from admin.controllers.knowledge import router_panel
from admin.filters import milliseconds, money
from admin.ledger_queries import OTHER, RANGES, Dashboard
from admin.services import ConsoleServices

CHARTS = (
    ("requests", "Requests", compact),
    ("tokens", "Tokens", compact),
    ("cost", "Cost", money),
    ("errors", "Errors", compact),
    ("fallbacks", "Fallbacks", compact),
    ("latency", "Latency p50 (solid) / p99 (dashed)", milliseconds),
)


def chart_context(dashboard: Dashboard) -> list[dict[str, Any]]:
    colours = {name: i for i, name in enumerate(dashboard.tenants)}

    def colour(_: int, series) -> int:
        return colours.get(series.name.rsplit(" p", 1)[0] if series.name != OTHER else OTHER, 0)

    charts = []
    for key, title, fmt in CHARTS:
        series = dashboard.charts[key]
        charts.append(
            {
                "key": key,
                "title": title,
                "svg": line_chart(
                    series,
                    dashboard.starts,
                    dashboard.bucket_seconds,
                    label=title,
                    fmt=fmt,
                    dashed=lambda s: s.name.endswith(" p99"),
                    colour_of=colour,
                ),
            }
        )
    return charts


class DashboardController(Controller):
    path = "/dashboard"
    guards = [requires_role("admin")]

    @get("/", sync_to_thread=True)
    def dashboard(
        self,
        console: NamedDependency[ConsoleServices],
        request: HTMXRequest,
        window: Annotated[str, QueryParameter(name="range")] = "24h",
        tenant: FromQuery[str | None] = None,
    ) -> Template:
        window = window if window in RANGES else "24h"
        data = console.ledger.dashboard(window, tenant or None)
        tenants = [t.name for t in console.services.tenants.list()]
        context = {
            "active": "dashboard",
            "data": data,
            "charts": chart_context(data),
            "ranges": list(RANGES),
            "range": window,
            "tenant": tenant or "",
            "tenant_names": tenants,
            "legend": [(i, name) for i, name in enumerate(data.tenants)],
            "currency": console.services.prices.currency,
            "router": router_panel(console, window, tenant or None),
        }
        name = "_dashboard_panels.html" if request.htmx and request.htmx.target == "panels" else "dashboard.html"
        return Template(template_name=name, context=context)
