"""Console accounts: the bootstrapped local admin, password checks (argon2id), and OpenID Connect users."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from admin.models import ConsoleUser, utcnow
from admin.settings import ROLES
from gateway.storage.database import Database

log = logging.getLogger("admin.accounts")

LOCAL, OIDC = "local", "oidc"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is signed in, as the request handlers see it."""

    user_id: int
    login: str
    name: str
    role: str
    source: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def identity_of(user: ConsoleUser) -> Identity:
    return Identity(user.id, user.login, user.display_name or user.login, user.role, user.source)


class AccountService:
    """Accounts over the database. Password hashing is argon2id with argon2-cffi's RFC 9106 profile."""

    def __init__(self, db: Database, hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def _dummy(self) -> str:
        """A hash to verify against for unknown users, so that they take as long as known ones."""
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    def bootstrap(self, username: str, password: str | None) -> str | None:
        """Create the local admin when no local account exists; returns a generated password (log it once)."""
        with self.db.session() as session:
            if session.exec(select(ConsoleUser.id).where(ConsoleUser.source == LOCAL)).first() is not None:
                return None
        generated = None
        if password is None:
            password = generated = secrets.token_urlsafe(18)
        try:
            with self.db.session() as session:
                session.add(
                    ConsoleUser(
                        login=username,
                        source=LOCAL,
                        display_name=username,
                        role="admin",
                        password_hash=self.hasher.hash(password),
                    )
                )
        except IntegrityError:  # another replica bootstrapped first
            return None
        return generated

    def create_local(self, username: str, password: str, role: str) -> ConsoleUser:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        with self.db.session() as session:
            user = ConsoleUser(
                login=username, source=LOCAL, display_name=username, role=role, password_hash=self.hasher.hash(password)
            )
            session.add(user)
            session.flush()
            session.refresh(user)
            return user

    def authenticate(self, username: str, password: str) -> Identity | None:
        """The local account for these credentials, or ``None``. Takes as long for unknown users."""
        with self.db.session() as session:
            user = session.exec(
                select(ConsoleUser).where(ConsoleUser.login == username, ConsoleUser.source == LOCAL)
            ).first()
            stored = user.password_hash if user is not None and user.password_hash else self._dummy()
            try:
                self.hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return None
            if user is None or user.disabled or not user.password_hash:
                return None
            if self.hasher.check_needs_rehash(user.password_hash):
                user.password_hash = self.hasher.hash(password)
            user.last_login_at = utcnow()
            session.add(user)
            return identity_of(user)

    def oidc_user(self, issuer: str, subject: str, role: str, name: str, email: str) -> Identity | None:
        """Create or refresh the account of an OpenID Connect subject; ``None`` when it was disabled here."""
        login = f"oidc:{issuer}|{subject}"
        for _ in range(2):
            try:
                with self.db.session() as session:
                    user = session.exec(select(ConsoleUser).where(ConsoleUser.login == login)).first()
                    if user is None:
                        user = ConsoleUser(login=login, source=OIDC, role=role)
                    if user.disabled:
                        return None
                    user.role, user.display_name, user.email = role, name[:256], email[:256]
                    user.last_login_at = utcnow()
                    session.add(user)
                    session.flush()
                    session.refresh(user)
                    return identity_of(user)
            except IntegrityError:  # the same person signing in twice at once
                continue
        raise RuntimeError(f"could not record console user {login!r}")
