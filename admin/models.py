"""The console's tables: accounts, sessions, failed sign-ins and pending OpenID Connect logins.

Created by the migration ``0004_console``; a change here needs a new migration.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class ConsoleUser(SQLModel, table=True):
    """A person who may sign in: a local account (with a password) or one seen through OpenID Connect."""

    __tablename__ = "console_user"

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=512, unique=True, index=True)
    """The local user name, or ``oidc:<issuer>|<sub>``."""
    source: str = Field(max_length=16)
    display_name: str = Field(default="", max_length=256)
    email: str = Field(default="", max_length=256)
    role: str = Field(max_length=16)
    password_hash: str | None = Field(default=None, max_length=256)
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser. Only the SHA-256 of the cookie's token is stored."""

    __tablename__ = "console_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="console_user.id", index=True)
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
    client: str = Field(default="", max_length=64)


class ConsoleLoginFailure(SQLModel, table=True):
    """One failed password sign-in, counted per client address and per user name."""

    __tablename__ = "console_login_failure"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=256, index=True)
    at: datetime = Field(default_factory=utcnow, index=True)


class ConsoleOidcFlow(SQLModel, table=True):
    """An authorization request on its way to the identity provider (single use, short-lived)."""

    __tablename__ = "console_oidc_flow"

    state_hash: str = Field(primary_key=True, max_length=64)
    code_verifier: str = Field(max_length=128)
    nonce: str = Field(max_length=128)
    next_url: str = Field(default="", max_length=512)
    created_at: datetime = Field(default_factory=utcnow)
