"""The learning loop's tables: labeling batches, prompts and their candidate answers, preference pairs,
human labels, judge scores, exported datasets and training jobs (schema in migration 0009)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from gateway.storage.models import utcnow

CHOICES = ("a", "b", "tie", "both_bad")
"""A label's verdict about the pair's stored answers (``a`` = the pair's first candidate)."""

JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED_STATES = ("succeeded", "failed", "cancelled")


class LabelBatch(SQLModel, table=True):
    """A set of pairs labelled together; each pair needs ``labels_needed`` human labels."""

    __tablename__ = "label_batch"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    name: str = Field(max_length=128)
    source: str = Field(max_length=32)
    """``traffic``, ``candidates`` (N temperatures) or ``canary`` (stable vs. canary adapter)."""
    labels_needed: int = 1
    created_by: str = Field(default="", max_length=128)
    created_at: datetime = Field(default_factory=utcnow)
    label_studio_project: int | None = None


class PromptCase(SQLModel, table=True):
    """One prompt (chat messages, PII already masked) that candidates answer."""

    __tablename__ = "prompt_case"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="label_batch.id", index=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    messages: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)


class Candidate(SQLModel, table=True):
    """One answer to a prompt, with where it came from (model, adapter, temperature, request id)."""

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt_case.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    origin: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class PreferencePair(SQLModel, table=True):
    """Two candidates of one prompt to compare; ``label_studio_task`` remembers the pushed task."""

    __tablename__ = "preference_pair"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="label_batch.id", index=True)
    prompt_id: int = Field(foreign_key="prompt_case.id", index=True)
    candidate_a: int = Field(foreign_key="candidate.id")
    candidate_b: int = Field(foreign_key="candidate.id")
    label_studio_task: int | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class PairLabel(SQLModel, table=True):
    """A reviewer's verdict on a pair: what was shown where (``presented``) and what they chose."""

    __tablename__ = "pair_label"
    __table_args__ = (UniqueConstraint("pair_id", "reviewer"),)

    id: int | None = Field(default=None, primary_key=True)
    pair_id: int = Field(foreign_key="preference_pair.id", index=True)
    reviewer: str = Field(max_length=160, index=True)
    presented: str = Field(max_length=2)
    """``ab``: candidate a was shown on the left; ``ba``: swapped."""
    choice: str = Field(max_length=16)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    external_id: str | None = Field(default=None, max_length=64)
    """The Label Studio annotation id for labels pulled from there."""
    created_at: datetime = Field(default_factory=utcnow)


class JudgeScore(SQLModel, table=True):
    """A judge model's rubric scores (0–10 each) for one candidate; never mixed with human labels."""

    __tablename__ = "judge_score"
    __table_args__ = (UniqueConstraint("candidate_id", "judge"),)

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    judge: str = Field(max_length=160)
    scores: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    total: float = 0.0
    raw: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow)


class TrainingDataset(SQLModel, table=True):
    """An exported JSONL file (TRL DPO format) with its data card."""

    __tablename__ = "training_dataset"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    name: str = Field(max_length=128)
    path: str = Field(max_length=1024)
    sha256: str = Field(max_length=64)
    rows: int = 0
    card: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class TrainingJob(SQLModel, table=True):
    """A DPO or SFT LoRA run: its spec, where it runs, its progress and its artifact."""

    __tablename__ = "training_job"

    id: str = Field(primary_key=True, max_length=32)
    tenant_id: int = Field(foreign_key="tenant.id", index=True)
    dataset_id: int = Field(foreign_key="training_dataset.id")
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    runner: str = Field(default="local", max_length=32)
    state: str = Field(default="queued", max_length=16, index=True)
    pid: int | None = None
    step: int = 0
    total_steps: int | None = None
    losses: list[list[float]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    eta_seconds: float | None = None
    work_dir: str = Field(default="", max_length=1024)
    artifact_path: str | None = Field(default=None, max_length=1024)
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    adapter: str | None = Field(default=None, max_length=256)
    """The registered adapter version (``name@version``) once the artifact was accepted."""
    created_by: str = Field(default="", max_length=128)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
