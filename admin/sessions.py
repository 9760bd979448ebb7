"""Server-side console sessions in the database, shared by every replica.

The browser holds a random token in an HttpOnly, SameSite=Lax cookie (``Secure`` over https);
the database holds only its SHA-256, the user and the role. A session ends at logout, after
``session_idle_seconds`` without a request, after ``session_max_age_seconds`` in any case, and
when its account is disabled.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlmodel import select

from admin.accounts import Identity, identity_of
from admin.models import ConsoleSession, ConsoleUser, utcnow
from gateway.storage.database import Database

COOKIE = "pg_console"
_TOUCH_EVERY = timedelta(seconds=60)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class SessionStore:
    def __init__(self, db: Database, max_age_seconds: int, idle_seconds: int) -> None:
        self.db = db
        self.max_age = timedelta(seconds=max_age_seconds)
        self.idle = timedelta(seconds=idle_seconds)

    def create(self, identity: Identity, client: str = "") -> str:
        """A new session for ``identity``; returns the token to put in the cookie."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.db.session() as session:
            session.add(
                ConsoleSession(
                    token_hash=token_hash(token),
                    user_id=identity.user_id,
                    role=identity.role,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.max_age,
                    client=client[:64],
                )
            )
            session.exec(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
        return token

    def load(self, token: str) -> Identity | None:
        """The signed-in identity for a cookie's token, or ``None`` (expired, idle, unknown or disabled)."""
        if not token or len(token) > 128:
            return None
        now = utcnow()
        with self.db.session() as session:
            row = session.exec(
                select(ConsoleSession, ConsoleUser)
                .join(ConsoleUser, ConsoleUser.id == ConsoleSession.user_id)
                .where(ConsoleSession.token_hash == token_hash(token))
            ).first()
            if row is None:
                return None
            record, user = row
            if user.disabled or _aware(record.expires_at) <= now or _aware(record.last_seen_at) + self.idle <= now:
                session.delete(record)
                return None
            if _aware(record.last_seen_at) + _TOUCH_EVERY <= now:
                record.last_seen_at = now
                session.add(record)
            identity = identity_of(user)
            # the role is fixed when the session starts; a changed role takes effect at the next sign-in
            return Identity(identity.user_id, identity.login, identity.name, record.role, identity.source)

    def delete(self, token: str) -> None:
        with self.db.session() as session:
            session.exec(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token)))

    def delete_for_user(self, user_id: int) -> None:
        with self.db.session() as session:
            session.exec(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))
