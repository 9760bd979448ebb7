"""Login rate limiting: failed password sign-ins counted per client address and per user name.

Counts live in the database so every replica sees the same ones. After ``max_failures``
failures within ``window_seconds`` for either key, sign-in is refused (429) until the oldest
of them leaves the window; a successful sign-in clears the user name's count.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import delete, func
from sqlmodel import select

from admin.models import ConsoleLoginFailure, utcnow
from gateway.storage.database import Database


def _keys(client: str, username: str) -> list[str]:
    return [f"ip:{client}"[:256], f"user:{username.strip().lower()}"[:256]]


class LoginThrottle:
    def __init__(self, db: Database, max_failures: int, window_seconds: int) -> None:
        self.db = db
        self.max_failures = max_failures
        self.window = timedelta(seconds=window_seconds)

    def retry_after(self, client: str, username: str) -> int:
        """Seconds until a sign-in may be tried again; 0 when it may be tried now."""
        now = utcnow()
        since = now - self.window
        wait = 0
        with self.db.session() as session:
            for key in _keys(client, username):
                count, oldest = session.exec(
                    select(func.count(), func.min(ConsoleLoginFailure.at)).where(
                        ConsoleLoginFailure.key == key, ConsoleLoginFailure.at > since
                    )
                ).one()
                if count >= self.max_failures and oldest is not None:
                    oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
                    wait = max(wait, int((oldest + self.window - now).total_seconds()) + 1)
        return wait

    def failed(self, client: str, username: str) -> None:
        now = utcnow()
        with self.db.session() as session:
            for key in _keys(client, username):
                session.add(ConsoleLoginFailure(key=key, at=now))
            session.exec(delete(ConsoleLoginFailure).where(ConsoleLoginFailure.at < now - self.window))

    def succeeded(self, username: str) -> None:
        with self.db.session() as session:
            session.exec(delete(ConsoleLoginFailure).where(ConsoleLoginFailure.key == _keys("", username)[1]))
