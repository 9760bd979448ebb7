"""A training job's specification: everything a runner needs, written to ``spec.json`` beside the job.

The same spec drives the local subprocess runner (``python -m training.train spec.json``), the
MLX runner (``mlx_lm.lora``) and the Kubernetes Job manifest.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import msgspec

METHODS = ("dpo", "sft")
RUNNERS = ("local", "mlx", "kubernetes")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,47}$")


HYPERPARAMETER_KEYS = (
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "epochs",
    "max_steps",
    "learning_rate",
    "beta",
    "batch_size",
    "max_length",
    "seed",
)
"""The training settings recorded in an adapter's lineage (with the method)."""


class JobSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Hyper-parameters follow the seeds: LoRA r=16, alpha=32, DPO beta=0.1."""

    job_id: str = ""
    tenant_id: int
    dataset_id: int
    dataset_path: str
    dataset_sha256: str = ""
    base_model: str
    adapter_name: str
    served_base: str | None = None
    """The base model's name as the gateway serves it (registration infers it from the adapter when empty)."""
    method: Literal["dpo", "sft"] = "dpo"
    runner: Literal["local", "mlx", "kubernetes"] = "local"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = msgspec.field(default_factory=lambda: ["q_proj", "v_proj"])
    epochs: float = 1.0
    max_steps: int | None = None
    learning_rate: float = 5e-5
    beta: float = 0.1
    batch_size: int = 2
    max_length: int = 512
    seed: int = 42
    output_dir: str = ""
    """Filled in by the job service: where the adapter, progress and log go."""

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> JobSpec:
        return msgspec.json.decode(raw, type=cls)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        return msgspec.convert(data, type=cls)

    def as_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)

    @property
    def hyperparameters(self) -> dict[str, Any]:
        data = self.as_dict()
        return {k: data[k] for k in ("method", *HYPERPARAMETER_KEYS)}


def validate(spec: JobSpec) -> dict[str, str]:
    """Field → message for every problem (empty when the spec can run)."""
    errors: dict[str, str] = {}
    if not _NAME.match(spec.adapter_name):
        errors["adapter_name"] = "lower-case letters, digits, '.', '_' and '-', at most 48 characters"
    if not spec.base_model.strip():
        errors["base_model"] = "choose a base model"
    elif spec.runner != "kubernetes" and not Path(spec.base_model).exists():
        errors["base_model"] = "no such model folder on this machine (models are never downloaded at run time)"
    if not Path(spec.dataset_path).is_file():
        errors["dataset_id"] = "the dataset file is missing"
    if not 1 <= spec.lora_r <= 512:
        errors["lora_r"] = "LoRA rank must be between 1 and 512"
    if not 1 <= spec.lora_alpha <= 4096:
        errors["lora_alpha"] = "LoRA alpha must be between 1 and 4096"
    if not 0 <= spec.lora_dropout < 1:
        errors["lora_dropout"] = "dropout must be in [0, 1)"
    if not spec.target_modules or not all(_MODULE.match(m) for m in spec.target_modules):
        errors["target_modules"] = "name one or more modules, e.g. q_proj, v_proj"
    if not 0 < spec.epochs <= 100:
        errors["epochs"] = "epochs must be above 0 and at most 100"
    if spec.max_steps is not None and not 1 <= spec.max_steps <= 1_000_000:
        errors["max_steps"] = "steps must be between 1 and 1,000,000 (or empty for whole epochs)"
    if not 0 < spec.learning_rate <= 1:
        errors["learning_rate"] = "the learning rate must be above 0 and at most 1"
    if not 0 < spec.beta <= 10:
        errors["beta"] = "beta must be above 0 and at most 10"
    if not 1 <= spec.batch_size <= 1024:
        errors["batch_size"] = "batch size must be between 1 and 1024"
    if not 16 <= spec.max_length <= 131072:
        errors["max_length"] = "max length must be between 16 and 131072 tokens"
    if spec.runner == "mlx" and spec.method != "sft":
        errors["method"] = "the MLX runner (mlx_lm.lora) trains SFT only"
    return errors
