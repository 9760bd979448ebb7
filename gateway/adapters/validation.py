"""What an unpacked adapter folder is, checked before it is accepted.

Two formats:

- **PEFT** (vLLM): ``adapter_config.json`` (``peft_type`` ``LORA``, ``r``, ``target_modules``)
  and ``adapter_model.safetensors`` whose tensors are ``…<module>.lora_A.weight`` of shape
  ``[r, in]`` and ``…<module>.lora_B.weight`` of shape ``[out, r]``;
- **MLX** (mlx-lm): ``adapter_config.json`` (``lora_parameters.rank``, optional ``keys``) and
  ``adapters.safetensors`` with ``…<module>.lora_a`` ``[in, r]`` and ``…<module>.lora_b`` ``[r, out]``.

Every tensor must belong to a declared target module, come in A/B pairs, be floating point,
and have the declared rank. Pickled weights (``adapter_model.bin``) are refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.adapters.safetensors_header import FLOAT_DTYPES, TensorInfo, read_header
from gateway.errors import InvalidRequest

CONFIG = "adapter_config.json"
PEFT_WEIGHTS = "adapter_model.safetensors"
MLX_WEIGHTS = "adapters.safetensors"
PICKLED = ("adapter_model.bin", "adapters.npz", "pytorch_model.bin")

_PEFT_TENSOR = re.compile(
    r"^(?P<module>.+)\.(?P<part>lora_A|lora_B|lora_embedding_A|lora_embedding_B)(\.[\w-]+)?(\.weight)?$"
)
_MLX_TENSOR = re.compile(r"^(?P<module>.+)\.(?P<part>lora_a|lora_b|m)$")


@dataclass(frozen=True, slots=True)
class AdapterManifest:
    """The facts of a valid adapter folder."""

    format: str
    rank: int
    target_modules: tuple[str, ...]
    declared_base: str | None
    files: tuple[str, ...]


def inspect_folder(folder: Path) -> AdapterManifest:
    """Check ``folder`` (an unpacked upload) and describe the adapter in it."""
    config_path = folder / CONFIG
    if not config_path.is_file():
        pickled = [name for name in PICKLED if (folder / name).exists()]
        if pickled:
            raise InvalidRequest(
                f"{pickled[0]} is pickled weights, which are never loaded; upload safetensors", param="file"
            )
        raise InvalidRequest(f"the upload has no {CONFIG}", param="file")
    try:
        config = json.loads(config_path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"{CONFIG} is not valid JSON: {exc}", param="file") from None
    if not isinstance(config, dict):
        raise InvalidRequest(f"{CONFIG} must be a JSON object", param="file")
    if (folder / PEFT_WEIGHTS).is_file():
        return _inspect_peft(config, read_header(folder / PEFT_WEIGHTS))
    if (folder / MLX_WEIGHTS).is_file():
        return _inspect_mlx(config, read_header(folder / MLX_WEIGHTS))
    if (folder / "adapter_model.bin").exists():
        raise InvalidRequest(
            "adapter_model.bin is pickled weights, which are never loaded; upload safetensors", param="file"
        )
    raise InvalidRequest(f"the upload has neither {PEFT_WEIGHTS} (PEFT) nor {MLX_WEIGHTS} (MLX)", param="file")


def _positive_int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidRequest(f"{CONFIG}: {what} must be a positive integer", param="file")
    return value


def _inspect_peft(config: dict[str, Any], tensors: dict[str, TensorInfo]) -> AdapterManifest:
    if str(config.get("peft_type", "")).upper() != "LORA":
        raise InvalidRequest(f"{CONFIG}: peft_type must be LORA, not {config.get('peft_type')!r}", param="file")
    rank = _positive_int(config.get("r"), "r")
    patterns = config.get("rank_pattern") or {}
    if not isinstance(patterns, dict) or not all(isinstance(v, int) and v >= 1 for v in patterns.values()):
        raise InvalidRequest(f"{CONFIG}: rank_pattern must map module patterns to ranks", param="file")
    targets = config.get("target_modules")
    if isinstance(targets, str):
        matches_target = _regex_matcher(targets)
        target_list: tuple[str, ...] = (targets,)
    elif isinstance(targets, list) and targets and all(isinstance(t, str) for t in targets):
        names = set(targets)
        target_list = tuple(sorted(names))
        matches_target = lambda module: module.rsplit(".", 1)[-1] in names or module in names  # noqa: E731
    else:
        raise InvalidRequest(f"{CONFIG}: target_modules must be a module list or a regex", param="file")
    pairs = _pairs(tensors, _PEFT_TENSOR, "file")
    for module, parts in pairs.items():
        if not matches_target(_strip_peft_prefix(module)):
            raise InvalidRequest(
                f"tensor for module {module!r} is not in target_modules {list(target_list)}", param="file"
            )
        expected = _rank_for(module, rank, patterns)
        a = parts.get("lora_A") or parts.get("lora_embedding_A")
        b = parts.get("lora_B") or parts.get("lora_embedding_B")
        if a is None or b is None:
            raise InvalidRequest(f"module {module!r} needs both lora_A and lora_B tensors", param="file")
        if len(a.shape) != 2 or len(b.shape) != 2 or a.shape[0] != expected or b.shape[1] != expected:
            raise InvalidRequest(
                f"module {module!r}: lora_A {list(a.shape)} / lora_B {list(b.shape)} do not match rank {expected}",
                param="file",
            )
    return AdapterManifest(
        format="peft",
        rank=max([rank, *patterns.values()]),
        target_modules=target_list,
        declared_base=_declared_base(config.get("base_model_name_or_path")),
        files=(CONFIG, PEFT_WEIGHTS),
    )


def _inspect_mlx(config: dict[str, Any], tensors: dict[str, TensorInfo]) -> AdapterManifest:
    kind = config.get("fine_tune_type", "lora")
    if kind not in ("lora", "dora"):
        raise InvalidRequest(f"{CONFIG}: fine_tune_type must be lora or dora, not {kind!r}", param="file")
    params = config.get("lora_parameters")
    if not isinstance(params, dict):
        raise InvalidRequest(f"{CONFIG}: lora_parameters is missing", param="file")
    rank = _positive_int(params.get("rank"), "lora_parameters.rank")
    _positive_int(config.get("num_layers"), "num_layers")
    if not isinstance(params.get("scale"), int | float):
        raise InvalidRequest(f"{CONFIG}: lora_parameters.scale must be a number", param="file")
    keys = params.get("keys")
    if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise InvalidRequest(f"{CONFIG}: lora_parameters.keys must be a list of module names", param="file")
    pairs = _pairs(tensors, _MLX_TENSOR, "file")
    seen: set[str] = set()
    for module, parts in pairs.items():
        local = re.sub(r"^.*?layers\.\d+\.", "", module)
        if keys is not None and local not in keys:
            raise InvalidRequest(f"tensor for module {module!r} is not in lora_parameters.keys {keys}", param="file")
        seen.add(local)
        a, b = parts.get("lora_a"), parts.get("lora_b")
        if a is None or b is None:
            raise InvalidRequest(f"module {module!r} needs both lora_a and lora_b tensors", param="file")
        if len(a.shape) != 2 or len(b.shape) != 2 or a.shape[1] != rank or b.shape[0] != rank:
            raise InvalidRequest(
                f"module {module!r}: lora_a {list(a.shape)} / lora_b {list(b.shape)} do not match rank {rank}",
                param="file",
            )
    return AdapterManifest(
        format="mlx",
        rank=rank,
        target_modules=tuple(sorted(keys if keys is not None else seen)),
        declared_base=config.get("model") if isinstance(config.get("model"), str) else None,
        files=(CONFIG, MLX_WEIGHTS),
    )


def _pairs(tensors: dict[str, TensorInfo], pattern: re.Pattern[str], param: str) -> dict[str, dict[str, TensorInfo]]:
    if not tensors:
        raise InvalidRequest("the weights file holds no tensors", param=param)
    pairs: dict[str, dict[str, TensorInfo]] = {}
    for name, info in tensors.items():
        found = pattern.match(name)
        if found is None:
            raise InvalidRequest(f"tensor {name!r} is not a LoRA weight", param=param)
        if info.dtype not in FLOAT_DTYPES:
            raise InvalidRequest(
                f"tensor {name!r} has dtype {info.dtype}; LoRA weights are floating point", param=param
            )
        pairs.setdefault(found["module"], {})[found["part"]] = info
    return pairs


def _strip_peft_prefix(module: str) -> str:
    return module.removeprefix("base_model.model.")


def _rank_for(module: str, rank: int, patterns: dict[str, int]) -> int:
    for pattern, value in patterns.items():
        local = _strip_peft_prefix(module)
        try:
            if local.endswith(pattern) or re.fullmatch(pattern, local):
                return value
        except re.error:
            raise InvalidRequest(f"{CONFIG}: rank_pattern key {pattern!r} is not a valid regex", param="file") from None
    return rank


def _regex_matcher(expression: str):
    try:
        compiled = re.compile(expression)
    except re.error as exc:
        raise InvalidRequest(f"{CONFIG}: target_modules is not a valid regex: {exc}", param="file") from None
    return lambda module: compiled.fullmatch(module) is not None


def _declared_base(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequest("adapter_config.json: base_model_name_or_path must be a string", param="file")
    return value
