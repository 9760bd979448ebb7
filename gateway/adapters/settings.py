"""``[adapters]``: upload limits, accepted base models, the vLLM sync loop and canary rollback thresholds."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AdapterSettings(BaseModel):
    """``[adapters]`` in the config file."""

    model_config = {"extra": "forbid"}

    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)
    max_unpacked_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    max_files: int = Field(default=64, ge=2)
    base_model_aliases: dict[str, list[str]] = Field(
        default_factory=dict,
        description="served base model → other names an adapter_config.json may give for it (HF ids)",
    )
    sync_interval_seconds: float = Field(default=10.0, gt=0)
    canary_window_seconds: float = Field(default=300.0, gt=0)
    canary_min_requests: int = Field(default=20, ge=1)
    canary_max_error_rate_increase: float = Field(default=0.05, ge=0, le=1)
    canary_max_p99_ratio: float = Field(default=2.0, ge=1)
    canary_min_latency_samples: int = Field(default=100, ge=1)
    canary_split_by: Literal["request", "user"] = "request"
