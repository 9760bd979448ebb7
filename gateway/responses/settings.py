"""``[responses]`` settings (mounted as ``Settings.responses``; ``GATEWAY_RESPONSES__*``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ResponsesSettings(BaseModel):
    """How long stored responses are kept, how often expired ones are purged, and how large one may be."""

    model_config = {"extra": "forbid"}

    retention_days: float = Field(default=30.0, gt=0, description="stored responses older than this answer 404")
    purge_interval_seconds: float = Field(default=3600.0, gt=0, description="how often expired responses are deleted")
    max_stored_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="largest stored record (conversation items + response); larger ones are answered, not stored",
    )
