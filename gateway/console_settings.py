"""The console's settings: the ``[console]`` table of ``gateway.settings.Settings``.

Kept on the gateway side (plain data, no console code) so that the one settings object holds
every table; the console reads it through ``ConsoleSettings.resolve(settings)``.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

ENV_PREFIX = "GATEWAY_CONSOLE__"
Role = Literal["admin", "reviewer"]
ROLES: tuple[Role, ...] = ("admin", "reviewer")


class ConsoleSettings(BaseModel):
    """``[console]``: sign-in (OpenID Connect and the local account), sessions and login throttling."""

    model_config = {"extra": "forbid"}

    session_secret: SecretStr | None = Field(
        default=None, description="signs CSRF tokens; unset: generated once and kept in <data_dir>/console.secret"
    )
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    session_idle_seconds: int = Field(default=3600, ge=60)
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_redirect_base: str | None = None
    oidc_scopes: str = "openid profile email"
    oidc_role_claim: str = "groups"
    oidc_role_map: dict[str, Role] = Field(default_factory=dict)
    oidc_label: str = "Single sign-on"
    local_login: bool = True
    bootstrap_admin_user: str = Field(default="admin", min_length=1, max_length=64)
    bootstrap_admin_password: SecretStr | None = None
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    page_size: int = Field(default=25, ge=5, le=500)

    @field_validator(
        "oidc_issuer",
        "oidc_client_id",
        "oidc_client_secret",
        "oidc_redirect_base",
        "session_secret",
        "bootstrap_admin_password",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _check(self) -> ConsoleSettings:
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("console.oidc_issuer is set: set console.oidc_client_id too")
        if self.oidc_issuer:
            self.oidc_issuer = self.oidc_issuer.rstrip("/")
        if self.oidc_redirect_base:
            self.oidc_redirect_base = self.oidc_redirect_base.rstrip("/")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConsoleSettings:
        """Read ``GATEWAY_CONSOLE__<FIELD>`` variables (JSON for the role map)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, value in environ.items():
            if not name.upper().startswith(ENV_PREFIX):
                continue
            field = name[len(ENV_PREFIX) :].lower()
            if field not in cls.model_fields:
                raise ValueError(f"{name}: no console setting {field!r}")
            values[field] = json.loads(value) if field == "oidc_role_map" else value
        return cls(**values)

    @classmethod
    def resolve(cls, gateway_settings: Any) -> ConsoleSettings:
        """The gateway's ``console`` table when it has one, else the environment."""
        table = getattr(gateway_settings, "console", None)
        if table is None:
            return cls.from_env()
        if isinstance(table, ConsoleSettings):
            return table
        dumped = table.model_dump() if hasattr(table, "model_dump") else dict(table)
        return cls(**{k: (v.get_secret_value() if isinstance(v, SecretStr) else v) for k, v in dumped.items()})

    def secret(self, data_dir: Path) -> str:
        """The CSRF signing secret: configured, or created once under ``data_dir`` (mode 0600)."""
        if self.session_secret is not None:
            return self.session_secret.get_secret_value()
        path = Path(data_dir) / "console.secret"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        return value
