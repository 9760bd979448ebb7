"""Registering a trained adapter as a new adapter version with its lineage (the adapters registry)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from training.models import TrainingJob
from training.spec import HYPERPARAMETER_KEYS

log = logging.getLogger("training.registration")


def lineage(job: TrainingJob, metrics: dict[str, Any]) -> dict[str, Any]:
    """Where an adapter came from: dataset hash, job id, hyper-parameters and metrics."""
    spec = job.spec
    return {
        "job_id": job.id,
        "tenant_id": job.tenant_id,
        "dataset_id": job.dataset_id,
        "dataset_sha256": spec.get("dataset_sha256"),
        "base_model": spec.get("base_model"),
        "method": spec.get("method"),
        "hyperparameters": {k: spec.get(k) for k in HYPERPARAMETER_KEYS},
        "metrics": metrics,
    }


def adapter_registrar(services: Any):
    """A registrar for :class:`training.jobs.JobService`: writes ``lineage.json`` beside the adapter, then
    registers the folder with the gateway's adapter registry when this gateway has one."""

    def register(job: TrainingJob, folder: Path, metrics: dict[str, Any]) -> str | None:
        record = lineage(job, metrics)
        (folder / "lineage.json").write_text(json.dumps(record, indent=2, sort_keys=True, default=str))
        adapters = getattr(services, "adapters", None)
        if adapters is None:
            return None
        version = adapters.registry.register_directory(
            folder, job.spec["adapter_name"], job.spec.get("served_base") or None, f"training:{job.id}", record
        )
        return f"{version.name}@{version.version}"

    return register


def canary_starter(services: Any):
    """``start(job, alias, percent)``: put the job's registered adapter on ``alias`` as a canary (None without
    an adapter registry). Gateway refusals (no stable adapter on the alias, another base) come back as ValueError."""
    adapters = getattr(services, "adapters", None)
    if adapters is None:
        return None

    def start(job: TrainingJob, alias: str, percent: float) -> str:
        from gateway.adapters.assignments import CanarySpec
        from gateway.errors import GatewayError
        from gateway.storage.models import Tenant

        name, _, version = job.adapter.rpartition("@")
        with services.db.session() as session:
            tenant = session.get(Tenant, job.tenant_id)
        try:
            spec = CanarySpec(percent=percent, adapter=name, version=int(version))
            adapters.assignments.set_canary(tenant.name, alias, spec)
        except GatewayError as exc:
            raise ValueError(exc.message) from exc
        return f"{name} v{version} now serves {percent:g}% of {tenant.name}'s {alias!r} traffic as a canary."

    return start
