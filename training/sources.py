"""Where pairs come from: sampled traffic, N candidates at different temperatures, stable vs. canary."""

from __future__ import annotations

import asyncio

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select

from gateway.storage.database import Database
from gateway.traffic_samples import TrafficSample
from training.gateway_calls import GatewayCompleter, GenerationError
from training.labeling import Answer, LabelingError, LabelingService

TEMPERATURES = (0.3, 0.5, 0.7, 0.9)


@dataclass(slots=True)
class BuildResult:
    batch_id: int
    pairs: int = 0
    failed: list[str] = field(default_factory=list)


def user_prompt(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


class PairSources:
    """Builds labeling batches; every answer is generated through the gateway for the batch's tenant."""

    def __init__(self, db: Database, labeling: LabelingService, completer: GatewayCompleter) -> None:
        self.db = db
        self.labeling = labeling
        self.completer = completer

    async def from_candidates(
        self,
        tenant_id: int,
        name: str,
        model: str,
        prompts: Sequence[list[dict[str, Any]]],
        temperatures: Sequence[float] = TEMPERATURES,
        labels_needed: int = 1,
        created_by: str = "",
    ) -> BuildResult:
        """N candidates per prompt from the tenant's ``model`` at ``temperatures``, paired outside-in."""
        if not prompts:
            raise LabelingError("give at least one prompt", "prompts")
        if len(temperatures) < 2 or any(not 0 <= t <= 2 for t in temperatures):
            raise LabelingError("give at least two temperatures between 0 and 2", "temperatures")
        self.completer.check_model(tenant_id, model)
        result = BuildResult(await asyncio.to_thread(self.labeling.create_batch, tenant_id, name, "candidates", labels_needed, created_by))
        for messages in prompts:
            answers = []
            for temperature in temperatures:
                try:
                    done = await self.completer.complete(tenant_id, model, messages, temperature=temperature)
                except GenerationError as exc:
                    result.failed.append(str(exc))
                    continue
                origin = {
                    "model": model,
                    "temperature": temperature,
                    "backend": done.backend,
                    "upstream": done.upstream_model,
                }
                answers.append(Answer(done.text, origin))
            if len(answers) >= 2:
                result.pairs += len(await asyncio.to_thread(self.labeling.add_prompt, result.batch_id, messages, answers))
        return self._settled(result)

    async def stable_vs_canary(
        self,
        tenant_id: int,
        name: str,
        stable: str,
        canary: str,
        prompts: Sequence[list[dict[str, Any]]],
        labels_needed: int = 1,
        created_by: str = "",
    ) -> BuildResult:
        """The same prompts answered by the stable model/adapter and by the canary one."""
        if not prompts:
            raise LabelingError("give at least one prompt", "prompts")
        if stable == canary:
            raise LabelingError("stable and canary must differ", "canary")
        self.completer.check_model(tenant_id, stable)
        self.completer.check_model(tenant_id, canary)
        result = BuildResult(await asyncio.to_thread(self.labeling.create_batch, tenant_id, name, "canary", labels_needed, created_by))
        for messages in prompts:
            answers = []
            for model, role in ((stable, "stable"), (canary, "canary")):
                try:
                    done = await self.completer.complete(tenant_id, model, messages)
                except GenerationError as exc:
                    result.failed.append(str(exc))
                    break
                origin = {"model": model, "role": role, "backend": done.backend, "upstream": done.upstream_model}
                answers.append(Answer(done.text, origin))
            if len(answers) < 2:
                continue
            result.pairs += len(await asyncio.to_thread(self.labeling.add_prompt, result.batch_id, messages, answers))
        return self._settled(result)

    async def from_traffic(
        self,
        tenant_id: int,
        name: str,
        model: str,
        limit: int = 50,
        temperature: float = 0.9,
        labels_needed: int = 1,
        created_by: str = "",
    ) -> BuildResult:
        """Unused sampled exchanges of the tenant, each paired with a fresh answer from ``model``."""
        samples = await asyncio.to_thread(self._unused_samples, tenant_id, limit)
        if not samples:
            raise LabelingError("this tenant has no unused sampled traffic (is sampling on?)", "source")
        self.completer.check_model(tenant_id, model)
        result = BuildResult(await asyncio.to_thread(self.labeling.create_batch, tenant_id, name, "traffic", labels_needed, created_by))
        for sample in samples:
            try:
                done = await self.completer.complete(tenant_id, model, sample.messages, temperature=temperature)
            except GenerationError as exc:
                result.failed.append(str(exc))
                continue
            answers = [
                Answer(sample.answer, {"model": sample.model, "request_id": sample.request_id, "source": "traffic"}),
                Answer(done.text, {"model": model, "temperature": temperature, "backend": done.backend}),
            ]
            result.pairs += len(await asyncio.to_thread(self.labeling.add_prompt, result.batch_id, sample.messages, answers))
            await asyncio.to_thread(self._mark_used, sample.id, result.batch_id)
        return self._settled(result)

    def _unused_samples(self, tenant_id: int, limit: int) -> list[TrafficSample]:
        with self.db.session() as session:
            return list(
                session.exec(
                    select(TrafficSample)
                    .where(TrafficSample.tenant_id == tenant_id, TrafficSample.used_in_batch.is_(None))
                    .order_by(TrafficSample.id)
                    .limit(limit)
                )
            )

    def _mark_used(self, sample_id: int, batch_id: int) -> None:
        with self.db.session() as session:
            row = session.get(TrafficSample, sample_id)
            row.used_in_batch = batch_id
            session.add(row)

    def _settled(self, result: BuildResult) -> BuildResult:
        """A batch that got no pair at all is removed again, and the first failure is raised."""
        if result.pairs == 0:
            self.labeling.delete_empty_batch(result.batch_id)
            raise GenerationError(result.failed[0] if result.failed else "no answers could be generated")
        return result
