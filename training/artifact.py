"""Checking a trained LoRA adapter before it is registered: PEFT config, safetensors weights, shapes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


class ArtifactError(ValueError):
    """The training output is not a usable LoRA adapter."""


def validate_adapter(folder: Path, expected_rank: int | None = None) -> dict[str, Any]:
    """Facts about a PEFT LoRA folder (rank, alpha, targets, tensors, sha256), or :class:`ArtifactError`."""
    if (folder / "adapters.safetensors").is_file():
        return _validate_mlx(folder, expected_rank)
    config_path, weights_path = folder / "adapter_config.json", folder / "adapter_model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise ArtifactError(f"{folder} lacks adapter_config.json or adapter_model.safetensors")
    try:
        config = json.loads(config_path.read_text())
    except ValueError as exc:
        raise ArtifactError(f"adapter_config.json is not JSON: {exc}") from exc
    if config.get("peft_type") != "LORA":
        raise ArtifactError(f"peft_type is {config.get('peft_type')!r}, not LORA")
    rank = config.get("r")
    if expected_rank is not None and rank != expected_rank:
        raise ArtifactError(f"rank {rank} differs from the requested {expected_rank}")
    from safetensors import safe_open

    try:
        with safe_open(str(weights_path), framework="numpy") as weights:
            names = list(weights.keys())
            shapes = {name: tuple(weights.get_slice(name).get_shape()) for name in names}
    except Exception as exc:
        raise ArtifactError(f"adapter_model.safetensors cannot be read: {exc}") from exc
    lora_a = [n for n in names if "lora_A" in n]
    lora_b = [n for n in names if "lora_B" in n]
    if not lora_a or len(lora_a) != len(lora_b):
        raise ArtifactError("the weights hold no matching lora_A/lora_B tensors")
    if any(shapes[n][0] != rank for n in lora_a) or any(shapes[n][-1] != rank for n in lora_b):
        raise ArtifactError(f"a LoRA tensor's shape does not match rank {rank}")
    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    return {
        "rank": rank,
        "alpha": config.get("lora_alpha"),
        "target_modules": sorted(config.get("target_modules") or []),
        "base_model": config.get("base_model_name_or_path"),
        "tensors": len(names),
        "weights_sha256": digest,
    }


def _validate_mlx(folder: Path, expected_rank: int | None) -> dict[str, Any]:
    """mlx-lm's adapter format: ``adapters.safetensors`` with ``lora_a``/``lora_b`` and its own config."""
    from safetensors import safe_open

    weights_path = folder / "adapters.safetensors"
    try:
        config = json.loads((folder / "adapter_config.json").read_text())
        with safe_open(str(weights_path), framework="numpy") as weights:
            names = list(weights.keys())
            shapes = {name: tuple(weights.get_slice(name).get_shape()) for name in names}
    except Exception as exc:
        raise ArtifactError(f"the MLX adapter cannot be read: {exc}") from exc
    rank = (config.get("lora_parameters") or {}).get("rank")
    lora_a = [n for n in names if n.endswith("lora_a")]
    if not lora_a or any(shapes[n][-1] != rank for n in lora_a):
        raise ArtifactError("the MLX adapter holds no lora_a tensors of its rank")
    if expected_rank is not None and rank != expected_rank:
        raise ArtifactError(f"rank {rank} differs from the requested {expected_rank}")
    return {
        "format": "mlx",
        "rank": rank,
        "tensors": len(names),
        "base_model": config.get("model"),
        "weights_sha256": hashlib.sha256(weights_path.read_bytes()).hexdigest(),
    }
