"""``[attestation]`` settings (to be mounted as ``Settings.attestation``; ``GATEWAY_ATTESTATION__*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator


class AttestationSettings(BaseModel):
    """Signing keys' encryption key, optional RFC 3161 timestamps, and the writer's batching."""

    model_config = {"extra": "forbid"}

    kek: SecretStr | None = Field(
        default=None, description="key-encryption key: 32 random bytes as base64url or hex (GATEWAY_ATTESTATION__KEK)"
    )
    kek_file: Path | None = Field(
        default=None,
        description="file holding the KEK; unset with kek unset: <data_dir>/attestation.kek, made on first start",
    )
    tsa_url: str | None = Field(default=None, description="RFC 3161 Time-Stamp Authority URL; unset: no timestamps")
    tsa_certificate: Path | None = Field(
        default=None, description="PEM certificate of the TSA (or its issuing CA) that tokens must be signed by"
    )
    tsa_timeout_seconds: float = Field(default=10.0, gt=0)
    batch_size: int = Field(default=500, ge=1, le=2000, description="most attestations written per transaction")
    key_refresh_seconds: float = Field(
        default=5.0, gt=0, description="how often a replica looks for a key rotated elsewhere"
    )

    @field_validator("kek", "tsa_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value):
        return None if value == "" else value
