"""Training (admin): the launch form, the jobs list, and each job's live page (htmx polling) with cancel and canary."""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Response, Template
from markupsafe import Markup

from admin.audit_trail import record
from admin.auth import requires_role
from admin.charts import compact, nice_ceiling
from admin.controllers.labeling import tenants_by_name
from admin.forms import Form, first
from admin.services import ConsoleServices
from training.jobs import JobError
from training.models import FINISHED_STATES, TrainingJob

FormBody = URLEncodedBody[dict[str, Any]]
DEFAULTS = {
    "method": "dpo",
    "runner": "local",
    "lora_r": "16",
    "lora_alpha": "32",
    "target_modules": "q_proj, v_proj",
    "epochs": "1",
    "max_steps": "",
    "learning_rate": "5e-5",
    "beta": "0.1",
    "batch_size": "2",
}
NUMBERS = {
    "lora_r": int,
    "lora_alpha": int,
    "epochs": float,
    "max_steps": int,
    "learning_rate": float,
    "beta": float,
    "batch_size": int,
}


def parse_launch(data: dict[str, Any], tenants: dict[str, int]) -> tuple[dict[str, Any] | None, Form]:
    """Form fields → the fields of a :class:`JobSpec` (types checked here, ranges by the spec)."""
    names = ("tenant", "dataset_id", "base_model", "served_base", "adapter_name", *DEFAULTS)
    form = Form({name: first(data, name) for name in names})
    fields: dict[str, Any] = {}
    tenant_id = tenants.get(form.values["tenant"])
    if tenant_id is None:
        form.error("tenant", "choose a tenant")
    fields["tenant_id"] = tenant_id
    try:
        fields["dataset_id"] = int(form.values["dataset_id"])
    except ValueError:
        form.error("dataset_id", "choose a dataset")
    for name, kind in NUMBERS.items():
        raw = form.values[name]
        if name == "max_steps" and not raw:
            fields[name] = None
            continue
        try:
            fields[name] = kind(raw)
        except ValueError:
            form.error(name, "a whole number" if kind is int else "a number")
    fields["target_modules"] = [m.strip() for m in form.values["target_modules"].replace(",", " ").split() if m.strip()]
    for name in ("method", "runner", "base_model", "adapter_name"):
        fields[name] = form.values[name]
    fields["served_base"] = form.values["served_base"] or None
    if fields["method"] not in ("dpo", "sft"):
        form.error("method", "DPO or SFT")
    if fields["runner"] not in ("local", "mlx", "kubernetes"):
        form.error("runner", "local, mlx or kubernetes")
    return (fields if form.ok else None), form


def loss_chart(losses: list[list[float]], width: int = 640, height: int = 200) -> Markup:
    """The loss per step as an SVG line (server-rendered, no script)."""
    if not losses:
        return Markup('<p class="muted" id="loss-chart">No loss logged yet.</p>')
    left, right, top, bottom = 48, 12, 10, 24
    steps = [s for s, _ in losses]
    peak = nice_ceiling(max(v for _, v in losses))
    low, high = min(steps), max(steps)
    span = max(high - low, 1)

    def x(step: float) -> float:
        return left + (width - left - right) * (step - low) / span

    def y(value: float) -> float:
        return top + (height - top - bottom) * (1 - value / peak)

    parts = [
        f'<svg id="loss-chart" class="chart" viewBox="0 0 {width} {height}" role="img" '
        'aria-label="Training loss by step" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i in range(5):
        value = peak * i / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>')
        parts.append(
            f'<text class="axis" x="{left - 6}" y="{y(value) + 3:.1f}" text-anchor="end">'
            f"{escape(compact(value))}</text>"
        )
    for step in sorted({low, high}):
        parts.append(
            f'<text class="axis" x="{x(step):.1f}" y="{height - 6}" text-anchor="middle">step {int(step)}</text>'
        )
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(s):.1f},{y(v):.1f}" for i, (s, v) in enumerate(losses))
    parts.append(f'<path class="line s0" d="{path}"/>')
    for s, v in losses:
        parts.append(
            f'<circle class="dot s0" cx="{x(s):.1f}" cy="{y(v):.1f}" r="2.2">'
            f"<title>step {int(s)} · loss {v:.4f}</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def launch_context(console: ConsoleServices, form: Form | None = None) -> dict[str, Any]:
    loop = console.learning
    tenants = tenants_by_name(console)
    names = {v: k for k, v in tenants.items()}
    return {
        "active": "training",
        "tenants": tenants,
        "datasets": [(d, names.get(d.tenant_id, "?")) for d in loop.exporter.datasets()],
        "jobs": [(j, names.get(j.tenant_id, "?")) for j in loop.jobs.list()],
        "form": form or Form(dict(DEFAULTS)),
        "tenant_options": [(name, name) for name in tenants],
        "dataset_options": [
            (str(d.id), f"{d.name} ({names.get(d.tenant_id, '?')}, {d.rows} rows)") for d in loop.exporter.datasets()
        ],
    }


def job_context(console: ConsoleServices, job_id: str, notice: str = "") -> dict[str, Any]:
    jobs = console.learning.jobs
    job = jobs.refresh(job_id)
    if job is None:
        raise NotFoundException("No such training job.")
    return {
        "active": "training",
        "job": job,
        "finished": job.state in FINISHED_STATES,
        "chart": loss_chart(job.losses),
        "log_tail": jobs.log_tail(job),
        "notice": notice,
        "canary_ready": job.state == "succeeded" and bool(job.adapter) and console.learning.canary is not None,
    }


class TrainingController(Controller):
    path = "/training"
    guards = [requires_role("admin")]

    @get("/", sync_to_thread=True)
    def index(self, console: NamedDependency[ConsoleServices]) -> Template:
        return Template(template_name="training.html", context=launch_context(console))

    @post("/jobs", status_code=200, sync_to_thread=True)
    def launch(self, console: NamedDependency[ConsoleServices], request: HTMXRequest, data: FormBody) -> Response:
        fields, form = parse_launch(data, tenants_by_name(console))
        if fields is not None:
            jobs = console.learning.jobs
            try:
                job = jobs.launch(jobs.build_spec(fields), created_by=request.user.login)
            except JobError as exc:
                for name, message in exc.errors.items():
                    form.error(name, message)
                if not exc.errors:
                    form.error("adapter_name", str(exc))
            else:
                record(console, request.user, "training.launch", f"job:{job.id}", spec=job.spec)
                target = f"/admin/training/jobs/{job.id}"
                return ClientRedirect(target) if request.htmx else Redirect(target, status_code=303)
        return Template(template_name="training.html", status_code=422, context=launch_context(console, form))

    @get("/jobs/{job_id:str}", sync_to_thread=True)
    def job(self, console: NamedDependency[ConsoleServices], job_id: FromPath[str]) -> Template:
        return Template(template_name="training_job.html", context=job_context(console, job_id))

    @get("/jobs/{job_id:str}/status", sync_to_thread=True)
    def status(self, console: NamedDependency[ConsoleServices], job_id: FromPath[str]) -> Template:
        return Template(template_name="_job_status.html", context=job_context(console, job_id))

    @post("/jobs/{job_id:str}/cancel", status_code=200, sync_to_thread=True)
    def cancel(self, console: NamedDependency[ConsoleServices], request: Request, job_id: FromPath[str]) -> Template:
        try:
            console.learning.jobs.cancel(job_id)
            notice = "Cancelled."
            record(console, request.user, "training.cancel", f"job:{job_id}")
        except JobError as exc:
            notice = str(exc)
        return Template(template_name="_job_status.html", context=job_context(console, job_id, notice))

    @post("/jobs/{job_id:str}/canary", status_code=200, sync_to_thread=True)
    def canary(
        self, console: NamedDependency[ConsoleServices], request: Request, job_id: FromPath[str], data: FormBody
    ) -> Template:
        job: TrainingJob | None = console.learning.jobs.get(job_id)
        if job is None:
            raise NotFoundException("No such training job.")
        alias, percent = first(data, "alias"), first(data, "percent") or "10"
        try:
            share = float(percent)
            if not 0 < share <= 100:  # also refuses nan
                raise ValueError("the traffic share must be above 0 and at most 100 %")
            notice = console.learning.send_to_canary(job, alias, share)
            record(console, request.user, "training.canary", f"job:{job_id}", alias=alias, percent=percent)
        except (ValueError, LookupError) as exc:
            notice = f"Could not start the canary: {exc}"
        return Template(template_name="_job_status.html", context=job_context(console, job_id, notice))
