"""Usage & quotas: per tenant and model over a date range, today's quota consumption, CSV export."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Response, Template

from admin.auth import requires_role
from admin.forms import Form
from admin.ledger_queries import month_first_day, quota_day_start
from admin.pagination import page_number
from admin.services import ConsoleServices
from gateway.accounting.usage import UsageQuery, to_csv

MAX_DAYS = 366


def date_range(start: str | None, end: str | None, today: date) -> tuple[date, date, Form]:
    form = Form({"start": start or "", "end": end or ""})
    parsed: dict[str, date] = {}
    for name, raw, default in (("start", start, today - timedelta(days=6)), ("end", end, today)):
        if not raw:
            parsed[name] = default
            continue
        try:
            parsed[name] = date.fromisoformat(raw)
        except ValueError:
            form.error(name, "Enter a date as YYYY-MM-DD.")
            parsed[name] = default
    if form.ok and parsed["end"] < parsed["start"]:
        form.error("end", "The end must not be before the start.")
    elif form.ok and (parsed["end"] - parsed["start"]).days >= MAX_DAYS:
        form.error("end", f"Choose at most {MAX_DAYS} days.")
    form.values.update(start=parsed["start"].isoformat(), end=parsed["end"].isoformat())
    return parsed["start"], parsed["end"], form


class UsageController(Controller):
    path = "/usage"
    guards = [requires_role("admin")]

    @get("/", sync_to_thread=True)
    def usage(
        self,
        console: NamedDependency[ConsoleServices],
        request: HTMXRequest,
        tenant: FromQuery[str | None] = None,
        model: FromQuery[str | None] = None,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
        page: FromQuery[int | None] = None,
        quota_page: FromQuery[int | None] = None,
        budget_page: FromQuery[int | None] = None,
    ) -> Template:
        now = datetime.now(UTC)
        first, last, form = date_range(start, end, now.date())
        tenant, model = (tenant or "").strip() or None, (model or "").strip() or None
        size = console.settings.page_size
        rows = console.ledger.usage(first, last, tenant, model, page_number(page), size)
        rows.params = {"tenant": tenant, "model": model, "start": first.isoformat(), "end": last.isoformat()}
        since = quota_day_start(now, console.services.settings.limits.daily_reset_hour_utc)
        quotas = console.ledger.quota_use(since, page_number(quota_page), size, tenant)
        quotas.params, quotas.key = dict(rows.params), "quota_page"
        month = month_first_day(now)
        budgets = console.ledger.budget_use(month, page_number(budget_page), size, tenant)
        budgets.params, budgets.key = dict(rows.params), "budget_page"
        context = {
            "active": "usage",
            "rows": rows,
            "quotas": quotas,
            "quota_since": since,
            "budgets": budgets,
            "budget_month": month,
            "form": form,
            "tenant": tenant or "",
            "model": model or "",
            "tenant_names": [t.name for t in console.services.tenants.list()],
            "currency": console.services.prices.currency,
            "export": rows.params,
        }
        target = request.htmx.target if request.htmx else None
        name = {"usage-table": "_usage_table.html", "quota-list": "_quotas.html", "budget-list": "_budgets.html"}.get(target or "", "usage.html")
        return Template(template_name=name, context=context)

    @get("/export", sync_to_thread=True)
    def export(
        self,
        console: NamedDependency[ConsoleServices],
        start: FromQuery[date],
        end: FromQuery[date],
        tenant: FromQuery[str | None] = None,
        group: FromQuery[Literal["daily", "requests"]] = "daily",
    ) -> Response:
        query = UsageQuery(start=start, end=end, tenant=tenant or None, group=group, format="csv")
        rows = console.services.usage.rows(query)
        filename = f"usage-{tenant or 'all'}-{start}-{end}{'-requests' if group == 'requests' else ''}.csv"
        return Response(
            to_csv(rows, group),
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )
