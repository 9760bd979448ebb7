"""Sampling real traffic for preference labeling: opt-in per tenant, PII masked one-way, off the response path.

A tenant opts in with a sampling rate (``TrafficSampling``, set from the console). The chat path
calls :meth:`TrafficSampler.offer` after an answer is complete; the sampler draws against the rate
and hands the exchange to one background thread, which masks every PII entity the tenant's policy
names (one-way ``[EMAIL]`` labels whatever the policy's reversible setting) and stores batches of
:class:`TrafficSample` rows. A full hand-off queue drops samples rather than slow a request.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, Session, SQLModel, select

from gateway.guardrails.pii import label_for
from gateway.storage.database import Database, bump_directory_version
from gateway.storage.models import utcnow

log = logging.getLogger("gateway.traffic_samples")

QUEUE_SIZE = 1000
BATCH = 50


class TrafficSampling(SQLModel, table=True):
    """A tenant's opt-in to traffic sampling: the share of completed chats kept (0 = off)."""

    __tablename__ = "traffic_sampling"

    tenant_id: int = Field(foreign_key="tenant.id", primary_key=True)
    rate: float = 0.0
    updated_at: datetime = Field(default_factory=utcnow)


class TrafficSample(SQLModel, table=True):
    """One sampled exchange: the masked prompt messages and the masked answer."""

    __tablename__ = "traffic_sample"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    request_id: str = Field(max_length=64)
    model: str = Field(max_length=256)
    messages: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    answer: str = Field(sa_column=Column(Text, nullable=False))
    used_in_batch: int | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)


@dataclass(slots=True)
class _Offer:
    tenant_id: int
    request_id: str
    model: str
    messages: list[dict[str, Any]]
    answer: str


def set_sampling_rate(db: Database, tenant_id: int, rate: float) -> None:
    """Opt a tenant in (``0 < rate <= 1``) or out (``0``); every replica picks it up at its next reload."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError("the sampling rate must be between 0 and 1")
    with db.session() as session:
        row = session.get(TrafficSampling, tenant_id) or TrafficSampling(tenant_id=tenant_id)
        row.rate, row.updated_at = rate, utcnow()
        session.add(row)
        bump_directory_version(session)


class TrafficSampler:
    """Decides per completed chat whether to keep it, and stores kept ones from a background thread."""

    def __init__(self, db: Database, guard: Any, rng: random.Random | None = None) -> None:
        self.db = db
        self.guard = guard
        self.rates: dict[int, float] = {}
        self.dropped = 0
        self._rng = rng or random.Random()
        self._queue: queue.Queue[_Offer | None] = queue.Queue(QUEUE_SIZE)
        self._thread: threading.Thread | None = None

    def load(self, session: Session) -> None:
        """Directory reload hook: the tenants' current rates."""
        self.rates = {row.tenant_id: row.rate for row in session.exec(select(TrafficSampling)) if row.rate > 0}

    def offer(self, tenant_id: int, request_id: str, model: str, messages: list[dict[str, Any]], answer: Any) -> bool:
        """Keep this exchange with the tenant's probability; never blocks. True when it was queued."""
        rate = self.rates.get(tenant_id, 0.0)
        if rate <= 0 or not isinstance(answer, str) or not answer or self._rng.random() >= rate:
            return False
        try:
            self._queue.put_nowait(_Offer(tenant_id, request_id, model, messages, answer))
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="traffic-sampler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued sample is stored (tests, shutdown)."""
        done = threading.Event()

        def waiter() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        done.wait(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.task_done()
                return
            batch = [first]
            while len(batch) < BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    self._queue.task_done()
                    break
                batch.append(more)
            try:
                self._store(batch)
            except Exception as exc:  # the error's text may quote the sampled prompt: log its type only
                log.error("traffic sampler: could not store %d samples (%s)", len(batch), type(exc).__name__)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _store(self, batch: list[_Offer]) -> None:
        rows = []
        for offer in batch:
            masker = self._masker(offer.tenant_id)
            messages = [_mask_message(message, masker) for message in offer.messages]
            rows.append(
                TrafficSample(
                    tenant_id=offer.tenant_id,
                    request_id=offer.request_id,
                    model=offer.model,
                    messages=messages,
                    answer=masker(offer.answer),
                )
            )
        with self.db.session() as session:
            session.add_all(rows)

    def _masker(self, tenant_id: int):
        """One-way masking with the entities and threshold of the tenant's input PII check."""
        _, policy = self.guard.policies.for_tenant(tenant_id)
        pii = policy.input.pii
        detector = self.guard.engine.detector
        if not detector.load():
            raise RuntimeError(detector.unavailable_reason or "PII detection is unavailable")

        def mask(text: str) -> str:
            spans = detector.find(text, pii.entities, pii.score_threshold)
            return detector.replace(text, spans, lambda entity, _value: f"[{label_for(entity)}]") if spans else text

        return mask


def _mask_message(message: dict[str, Any], mask) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str):
        return {"role": message.get("role", "user"), "content": mask(content)}
    if isinstance(content, list):
        parts = [
            (
                {**part, "text": mask(part["text"])}
                if isinstance(part, dict) and isinstance(part.get("text"), str)
                else part
            )
            for part in content
            if not (isinstance(part, dict) and part.get("type") not in (None, "text"))
        ]
        return {"role": message.get("role", "user"), "content": parts}
    return {"role": message.get("role", "user"), "content": content if content is not None else ""}
