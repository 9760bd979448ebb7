"""Typed settings: one TOML file, every value overridable by ``GATEWAY_*`` environment variables.

Nested values use ``__`` in the variable name (``GATEWAY_ROUTING__FALLBACK='["claude"]'``).
Nothing here is read at import time; ``Settings.load()`` is called by the CLI and by tests.
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gateway.attestation.settings import AttestationSettings
from gateway.adapters.settings import AdapterSettings
from gateway.console_settings import ConsoleSettings
from gateway.knowledge.settings import KnowledgeSettings
from gateway.responses.settings import ResponsesSettings

_LOADING_CONFIG: contextvars.ContextVar[Path | None] = contextvars.ContextVar("gateway_config_file", default=None)

BackendKind = Literal["vllm", "mlx", "openai", "anthropic"]


class BackendSettings(BaseModel):
    """One ``[[backends]]`` table."""

    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    kind: BackendKind
    base_url: str | None = None
    api_key_env: str | None = None
    models: list[str] = Field(default_factory=list)
    model_source: str | None = Field(
        default=None, description="mlx without base_url: a Hugging Face id or local path run in process"
    )
    context_windows: dict[str, int] = Field(default_factory=dict)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=120.0, gt=0)
    max_connections: int = Field(default=200, ge=1)
    retries: int = Field(default=1, ge=0, le=10)
    adapter_root: str | None = Field(default=None, description="vllm: where this host sees the gateway's adapter store")
    max_loras: int = Field(default=1, ge=1, description="vllm: --max-loras the server was started with")
    max_lora_rank: int = Field(default=16, ge=1, description="vllm: --max-lora-rank; mlx: the largest rank accepted")
    max_loaded_adapters: int = Field(default=4, ge=1, description="in-process mlx: adapters kept loaded (LRU)")
    responses_api: Literal["translate", "native"] = Field(
        default="translate", description="native: /v1/responses requests go to the upstream's own /responses"
    )

    @model_validator(mode="after")
    def _needs_a_location(self) -> BackendSettings:
        if self.kind in ("vllm", "openai", "anthropic") and not self.base_url:
            raise ValueError(f"backend {self.name!r}: kind {self.kind!r} needs base_url")
        if self.kind == "mlx" and not (self.base_url or self.model_source):
            raise ValueError(f"backend {self.name!r}: kind 'mlx' needs base_url (mlx_lm.server) or model_source")
        if not self.models:
            raise ValueError(f"backend {self.name!r}: list at least one model in models")
        if self.responses_api == "native" and (self.kind == "anthropic" or not self.base_url):
            raise ValueError(f"backend {self.name!r}: responses_api 'native' needs an OpenAI-compatible base_url")
        return self

    def api_key(self) -> str | None:
        """The upstream credential, read from the named environment variable."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class RoutingSettings(BaseModel):
    """``[routing]``: the default fallback chain (backend names)."""

    model_config = {"extra": "forbid"}

    fallback: list[str] = Field(default_factory=list)


class ResilienceSettings(BaseModel):
    """``[resilience]``: retries, circuit breaking and active health checks."""

    model_config = {"extra": "forbid"}

    retry_backoff_seconds: float = Field(default=0.05, ge=0)
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=10.0, gt=0)
    health_check_interval_seconds: float = Field(default=10.0, gt=0)


class LimitSettings(BaseModel):
    """``[limits]``: where counters live and how admission estimates tokens."""

    model_config = {"extra": "forbid"}

    redis_url: str = Field(default="", description="empty: limits kept in this process's memory")
    redis_failure: Literal["open", "closed"] = "open"
    redis_timeout_seconds: float = Field(default=2.0, gt=0)
    redis_key_prefix: str = Field(default="gw", min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    daily_reset_hour_utc: int = Field(default=0, ge=0, le=23)
    default_completion_tokens: int = Field(default=512, ge=1)
    lease_seconds: float = Field(default=600.0, gt=0)


class ModelPriceSettings(BaseModel):
    """One ``[[pricing.models]]`` table: the price of one backend's model (``*`` for all of them)."""

    model_config = {"extra": "forbid"}

    backend: str
    model: str = "*"
    input_per_million: float = Field(default=0.0, ge=0)
    output_per_million: float = Field(default=0.0, ge=0)
    per_gpu_second: float = Field(default=0.0, ge=0)


class PricingSettings(BaseModel):
    """``[pricing]``: prices for the ledger, and what an unpriced model costs (never nothing)."""

    model_config = {"extra": "forbid"}

    currency: str = "USD"
    self_hosted_per_gpu_second: float = Field(default=0.0005, ge=0)
    api_input_per_million: float = Field(default=3.0, ge=0)
    api_output_per_million: float = Field(default=15.0, ge=0)
    models: list[ModelPriceSettings] = Field(default_factory=list)


class LedgerSettings(BaseModel):
    """``[ledger]``: the durable usage spool and its flush to the database."""

    model_config = {"extra": "forbid"}

    flush_interval_seconds: float = Field(default=0.5, gt=0)
    fsync: bool = False


class GuardrailSettings(BaseModel):
    """``[guardrails]``: the per-tenant guardrail policies, on or off for the whole gateway."""

    model_config = {"extra": "forbid"}

    enabled: bool = True
    warm_on_start: bool = True


class Settings(BaseSettings):
    """Everything the gateway reads from its configuration."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    data_dir: Path = Path("data")
    database_url: str = ""
    admin_token: SecretStr | None = None
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    directory_refresh_seconds: float = Field(default=0.5, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    local_model: str = Field(
        default="mlx-community/Qwen2.5-0.5B-Instruct-4bit",
        description="model served in process when no backend is configured (HF id, local path or 'tiny')",
    )
    local_model_alias: str = "local"
    backends: list[BackendSettings] = Field(default_factory=list)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    resilience: ResilienceSettings = Field(default_factory=ResilienceSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    attestation: AttestationSettings = Field(default_factory=AttestationSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    guardrails: GuardrailSettings = Field(default_factory=GuardrailSettings)
    adapters: AdapterSettings = Field(default_factory=AdapterSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    responses: ResponsesSettings = Field(default_factory=ResponsesSettings)

    @field_validator("admin_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'gateway.db'}"
        names = [b.name for b in self.backends]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"backend names must be unique: {sorted(duplicates)}")
        unknown = [n for n in self.routing.fallback if n not in names and n != self.local_backend_name]
        if unknown:
            raise ValueError(f"[routing] fallback names unknown backends: {unknown}")
        return self

    @property
    def local_backend_name(self) -> str:
        return "local"

    def effective_backends(self) -> list[BackendSettings]:
        """The configured backends, or the embedded in-process MLX model when none are."""
        if self.backends:
            return list(self.backends)
        return [
            BackendSettings(
                name=self.local_backend_name,
                kind="mlx",
                model_source=self.local_model,
                models=[self.local_model_alias],
            )
        ]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _LOADING_CONFIG.get()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @classmethod
    def load(cls, config_path: str | Path | None = None, **overrides: Any) -> Settings:
        """Read the TOML file (``config_path`` or ``$GATEWAY_CONFIG``), then the environment."""
        path = config_path or os.environ.get("GATEWAY_CONFIG") or None
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        token = _LOADING_CONFIG.set(Path(path) if path else None)
        try:
            return cls(**overrides)
        finally:
            _LOADING_CONFIG.reset(token)
