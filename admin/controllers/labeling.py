"""Labeling: the reviewers' queue (reviewers and admins) and the admin pages for sources, batches,
agreement, the judge, Label Studio and dataset export."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Response, Template
from sqlmodel import select

from admin.audit_trail import record
from admin.auth import requires_role
from admin.forms import Form, checkbox, first
from admin.services import ConsoleServices
from gateway.storage.models import Tenant
from gateway.traffic_samples import TrafficSample, TrafficSampling, set_sampling_rate
from training.agreement import agreement
from training.export import ExportError
from training.gateway_calls import GenerationError
from training.labeling import LabelingError
from training.models import LabelBatch
from training.sources import TEMPERATURES

FormBody = URLEncodedBody[dict[str, Any]]


def _int(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None


def tenants_by_name(console: ConsoleServices) -> dict[str, int]:
    with console.services.db.session() as session:
        return {t.name: t.id for t in session.exec(select(Tenant).order_by(Tenant.name))}


# -- the queue ------------------------------------------------------------------------------------------


def queue_context(console: ConsoleServices, reviewer: str, after: int | None = None, **extra: Any) -> dict[str, Any]:
    loop = console.learning
    return {
        "item": loop.labeling.next_item(reviewer, after=after),
        "progress": loop.labeling.progress(reviewer),
        "message": "",
        **extra,
    }


class QueueController(Controller):
    """The labeling queue: the one page reviewers may open. Keys: 1 left, 2 right, 3 tie, 4 both bad, s skip, u undo."""

    path = "/queue"
    guards = [requires_role("admin", "reviewer")]

    @get("/", sync_to_thread=True)
    def index(
        self, console: NamedDependency[ConsoleServices], request: HTMXRequest, after: FromQuery[int | None] = None
    ) -> Template:
        context = queue_context(console, request.user.login, after)
        partial = request.htmx and request.htmx.target == "label-panel"
        return Template(
            template_name="_label_panel.html" if partial else "queue.html", context={"active": "queue", **context}
        )

    @post("/label", status_code=200, sync_to_thread=True)
    def label(self, console: NamedDependency[ConsoleServices], request: HTMXRequest, data: FormBody) -> Response:
        reviewer = request.user.login
        pair_id = _int(first(data, "pair_id"))
        message, status = "", 200
        try:
            if pair_id is None:
                raise LabelingError("no pair was given", "pair_id")
            console.learning.labeling.label(
                reviewer, pair_id, first(data, "presented"), first(data, "choice"), first(data, "comment")
            )
        except LabelingError as exc:
            message, status = str(exc), 422
        if not request.htmx:
            return Redirect("/admin/queue", status_code=303)
        context = queue_context(console, reviewer, message=message)
        if status == 422 and pair_id is not None:
            context["item"] = (
                console.learning.labeling.item(pair_id, first(data, "presented") or "ab") or context["item"]
            )
        return Template(template_name="_label_panel.html", status_code=status, context=context)

    @post("/undo", status_code=200, sync_to_thread=True)
    def undo(self, console: NamedDependency[ConsoleServices], request: HTMXRequest) -> Response:
        reviewer = request.user.login
        undone = console.learning.labeling.undo_last(reviewer)
        if not request.htmx:
            return Redirect("/admin/queue", status_code=303)
        context = queue_context(console, reviewer, message="Nothing to undo." if undone is None else "Label undone.")
        if undone is not None:
            context["item"] = console.learning.labeling.item(undone.pair_id, undone.presented)
        return Template(template_name="_label_panel.html", context=context)


# -- admin pages ----------------------------------------------------------------------------------------


def labeling_context(console: ConsoleServices, **extra: Any) -> dict[str, Any]:
    loop = console.learning
    tenants = tenants_by_name(console)
    names = {v: k for k, v in tenants.items()}
    with console.services.db.session() as session:
        rates = {row.tenant_id: row.rate for row in session.exec(select(TrafficSampling))}
        sampled: dict[int, int] = {}
        for row in session.exec(select(TrafficSample.tenant_id, TrafficSample.used_in_batch)):
            if row[1] is None:
                sampled[row[0]] = sampled.get(row[0], 0) + 1
    batches = []
    progress = {p.batch_id: p for p in loop.labeling.progress("")}
    for batch in loop.labeling.batches():
        agreed = agreement(loop.labeling.labels(batch.id))
        batches.append(
            {
                "batch": batch,
                "tenant": names.get(batch.tenant_id, "?"),
                "progress": progress.get(batch.id),
                "agreement": agreed,
            }
        )
    return {
        "active": "labeling",
        "tenants": tenants,
        "rates": {name: rates.get(tid, 0.0) for name, tid in tenants.items()},
        "sampled": {name: sampled.get(tid, 0) for name, tid in tenants.items()},
        "batches": batches,
        "datasets": [(d, names.get(d.tenant_id, "?")) for d in loop.exporter.datasets()],
        "batch_form": Form(
            {"source": "candidates", "labels_needed": "1", "temperatures": ", ".join(map(str, TEMPERATURES))}
        ),
        "export_form": Form({}),
        "sampling_form": Form({}),
        "notice": "",
        **extra,
    }


def _prompts(raw: str) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": line.strip()}] for line in raw.splitlines() if line.strip()]


class LabelingController(Controller):
    """Admin: traffic sampling per tenant, batches from each source, agreement, judge, Label Studio, export."""

    path = "/labeling"
    guards = [requires_role("admin")]

    @get("/", sync_to_thread=True)
    def index(self, console: NamedDependency[ConsoleServices]) -> Template:
        return Template(template_name="labeling.html", context=labeling_context(console))

    @post("/sampling", status_code=200, sync_to_thread=True)
    def sampling(self, console: NamedDependency[ConsoleServices], request: Request, data: FormBody) -> Template:
        form = Form(dict(data))
        tenant = tenants_by_name(console).get(first(data, "tenant"))
        try:
            rate = float(first(data, "rate")) / 100
        except ValueError:
            rate = -1
        if tenant is None:
            form.error("tenant", "choose a tenant")
        if not 0 <= rate <= 1:
            form.error("rate", "a percentage from 0 (off) to 100")
        notice = ""
        if form.ok:
            set_sampling_rate(console.services.db, tenant, rate)
            record(console, request.user, "labeling.sampling", f"tenant:{first(data, 'tenant')}", rate=rate)
            notice = f"Sampling for {first(data, 'tenant')} set to {rate:.0%}."
        context = labeling_context(console, sampling_form=form, notice=notice)
        return Template(template_name="labeling.html", status_code=200 if form.ok else 422, context=context)

    @post("/batches", status_code=200)
    async def create_batch(
        self, console: NamedDependency[ConsoleServices], request: Request, data: FormBody
    ) -> Response:
        form = Form(dict(data))
        tenants = await anyio.to_thread.run_sync(tenants_by_name, console)
        tenant_id = tenants.get(first(data, "tenant"))
        source, model, name = first(data, "source"), first(data, "model"), first(data, "name")
        k = _int(first(data, "labels_needed")) or 0
        if tenant_id is None:
            form.error("tenant", "choose a tenant")
        if not model:
            form.error("model", "name the model (the tenant's alias) that answers")
        if not 1 <= k <= 10:
            form.error("labels_needed", "between 1 and 10 labels per pair")
        prompts = _prompts(first(data, "prompts"))
        if source in ("candidates", "canary") and not prompts:
            form.error("prompts", "one prompt per line")
        try:
            temperatures = [float(t) for t in first(data, "temperatures").replace(",", " ").split()]
        except ValueError:
            temperatures = []
            form.error("temperatures", "numbers such as 0.3, 0.5, 0.7, 0.9")
        if source == "canary" and not first(data, "canary"):
            form.error("canary", "name the canary model or adapter")
        result = None
        if form.ok:
            sources, who = console.learning.sources, request.user.login
            try:
                if source == "candidates":
                    result = await sources.from_candidates(tenant_id, name, model, prompts, temperatures, k, who)
                elif source == "canary":
                    result = await sources.stable_vs_canary(
                        tenant_id, name, model, first(data, "canary"), prompts, k, who
                    )
                elif source == "traffic":
                    limit = min(max(_int(first(data, "limit")) or 50, 1), 1000)
                    result = await sources.from_traffic(
                        tenant_id, name, model, limit, max(temperatures or [0.9]), k, who
                    )
                else:
                    form.error("source", "choose traffic, candidates or canary")
            except LabelingError as exc:
                form.error(
                    exc.param if exc.param in ("name", "source", "prompts", "temperatures", "canary") else "name",
                    str(exc),
                )
            except GenerationError as exc:
                form.error("model", str(exc))
        if result is not None:
            batch_id, pairs, user = result.batch_id, result.pairs, request.user
            await anyio.to_thread.run_sync(
                lambda: record(console, user, "labeling.batch", f"batch:{batch_id}", pairs=pairs)
            )
            target = f"/admin/labeling/batches/{result.batch_id}"
            return ClientRedirect(target) if request.headers.get("hx-request") else Redirect(target, status_code=303)
        context = await anyio.to_thread.run_sync(lambda: labeling_context(console, batch_form=form))
        return Template(template_name="labeling.html", status_code=422, context=context)

    @get("/batches/{batch_id:int}", sync_to_thread=True)
    def batch(self, console: NamedDependency[ConsoleServices], batch_id: FromPath[int]) -> Template:
        return Template(template_name="labeling_batch.html", context=batch_context(console, batch_id))

    @post("/batches/{batch_id:int}/judge", status_code=200)
    async def judge(
        self, console: NamedDependency[ConsoleServices], request: Request, batch_id: FromPath[int], data: FormBody
    ) -> Template:
        model = first(data, "judge_model")
        notice, status = "", 200
        if not model:
            notice, status = "Name the judge model (e.g. the Claude alias).", 422
        else:
            run = await console.learning.judge.score_batch(batch_id, model)
            notice = f"The judge scored {run.scored} answers." + (
                f" {len(run.failed)} failed: {run.failed[0]}" if run.failed else ""
            )
            user = request.user
            await anyio.to_thread.run_sync(
                lambda: record(console, user, "labeling.judge", f"batch:{batch_id}", judge=model, scored=run.scored)
            )
        context = await anyio.to_thread.run_sync(lambda: batch_context(console, batch_id, notice=notice))
        return Template(template_name="labeling_batch.html", status_code=status, context=context)

    @post("/batches/{batch_id:int}/label-studio", status_code=200, sync_to_thread=True)
    def label_studio(
        self, console: NamedDependency[ConsoleServices], request: Request, batch_id: FromPath[int], data: FormBody
    ) -> Template:
        from training.label_studio import LabelStudioError, LabelStudioSync

        url, token, action = first(data, "ls_url"), first(data, "ls_token"), first(data, "action")
        status = 200
        try:
            sync = LabelStudioSync(console.services.db, url, token)
            if action == "pull":
                pulled = sync.pull(batch_id)
                notice = f"Pulled {pulled.added} new labels from Label Studio ({pulled.seen} annotations seen)."
            else:
                pushed = sync.push(batch_id)
                notice = f"Pushed {pushed.created} new tasks to Label Studio project {pushed.project_id}."
            record(console, request.user, f"labeling.label_studio.{action or 'push'}", f"batch:{batch_id}")
        except LabelStudioError as exc:
            notice, status = f"Label Studio: {exc}", 422
        return Template(
            template_name="labeling_batch.html",
            status_code=status,
            context=batch_context(console, batch_id, notice=notice),
        )

    @post("/export", status_code=200, sync_to_thread=True)
    def export(self, console: NamedDependency[ConsoleServices], request: Request, data: FormBody) -> Template:
        form = Form(dict(data))
        tenant_id = tenants_by_name(console).get(first(data, "tenant"))
        notice = ""
        if tenant_id is None:
            form.error("tenant", "choose a tenant")
        else:
            try:
                exported = console.learning.exporter.export(
                    tenant_id, first(data, "dataset_name"), use_judge=checkbox(data, "use_judge")
                )
            except ExportError as exc:
                form.error("dataset_name" if exc.param == "name" else "tenant", str(exc))
            else:
                notice = (
                    f"Exported {exported.rows} pairs to {exported.path.name} (sha256 {exported.card['sha256'][:12]}…)."
                )
                record(console, request.user, "labeling.export", f"dataset:{exported.dataset_id}", rows=exported.rows)
        context = labeling_context(console, export_form=form, notice=notice)
        return Template(template_name="labeling.html", status_code=200 if form.ok else 422, context=context)


def batch_context(console: ConsoleServices, batch_id: int, notice: str = "") -> dict[str, Any]:
    loop = console.learning
    with console.services.db.session() as session:
        batch = session.get(LabelBatch, batch_id)
        if batch is None:
            raise NotFoundException("No such batch.")
        tenant = session.get(Tenant, batch.tenant_id)
    labels = loop.labeling.labels(batch_id)
    progress = {p.batch_id: p for p in loop.labeling.progress("")}.get(batch_id)
    return {
        "active": "labeling",
        "batch": batch,
        "tenant": tenant.name if tenant else "?",
        "progress": progress,
        "agreement": agreement(labels),
        "disagreements": loop.judge.disagreements(batch_id),
        "labels": labels,
        "notice": notice,
    }
