"""Console accounts: the bootstrapped local admin, password checks (argon2id), and OpenID Connect users."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from admin.models import ConsoleSession, ConsoleUser, utcnow
from admin.pagination import Page, offset
from admin.settings import ROLES
from gateway.errors import NotFound
from gateway.storage.database import Database

log = logging.getLogger("admin.accounts")

LOCAL, OIDC = "local", "oidc"
MIN_PASSWORD = 12
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,63}$")


class AccountError(ValueError):
    """A change to an account that is not allowed; ``field`` names the form field it concerns."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def generate_password() -> str:
    return secrets.token_urlsafe(15)


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
        """A new local account; ``AccountError`` for a bad name, role or password, or a name in use."""
        if not _USERNAME.match(username) or username.startswith("oidc:"):
            raise AccountError(
                "username", "1–64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit."
            )
        if role not in ROLES:
            raise AccountError("role", f"Choose one of: {', '.join(ROLES)}.")
        if len(password) < MIN_PASSWORD:
            raise AccountError("password", f"At least {MIN_PASSWORD} characters (or leave it empty to generate one).")
        try:
            with self.db.session() as session:
                user = ConsoleUser(
                    login=username,
                    source=LOCAL,
                    display_name=username,
                    role=role,
                    password_hash=self.hasher.hash(password),
                )
                session.add(user)
                session.flush()
                session.refresh(user)
                return user
        except IntegrityError as exc:
            raise AccountError("username", f"An account named {username!r} already exists.") from exc

    def list(self, number: int, size: int) -> Page:
        """One page of accounts: local ones first, then by name."""
        with self.db.session() as session:
            total = session.execute(select(func.count()).select_from(ConsoleUser)).scalar_one()
            users = list(
                session.exec(
                    select(ConsoleUser)
                    .order_by(ConsoleUser.source != LOCAL, ConsoleUser.login)
                    .offset(offset(number, size))
                    .limit(size)
                )
            )
        return Page(users, number, size, total)

    def get(self, user_id: int) -> ConsoleUser:
        with self.db.session() as session:
            return self._user(session, user_id)

    def set_disabled(self, user_id: int, disabled: bool) -> ConsoleUser:
        """Disable (signing the account out everywhere) or enable an account; never the last enabled admin."""
        with self.db.session() as session:
            user = self._user(session, user_id)
            if disabled and user.role == "admin" and not user.disabled:
                self._keep_an_admin(session, user, "disabled")
            user.disabled = disabled
            session.add(user)
            if disabled:
                _sign_out(session, user.id)
            session.flush()
            session.refresh(user)
            return user

    def set_role(self, user_id: int, role: str) -> ConsoleUser:
        """Change a local account's role (its sessions end: the new role applies at its next sign-in)."""
        if role not in ROLES:
            raise AccountError("role", f"Choose one of: {', '.join(ROLES)}.")
        with self.db.session() as session:
            user = self._user(session, user_id)
            if user.source != LOCAL:
                raise AccountError("role", "Single sign-on accounts take their role from the identity provider.")
            if user.role == "admin" and role != "admin" and not user.disabled:
                self._keep_an_admin(session, user, "demoted")
            if user.role != role:
                user.role = role
                session.add(user)
                _sign_out(session, user.id)
            session.flush()
            session.refresh(user)
            return user

    def reset_password(self, user_id: int, password: str | None = None) -> str:
        """Set a local account's password (generated when ``None``) and end its sessions; returns it."""
        if password is not None and len(password) < MIN_PASSWORD:
            raise AccountError("password", f"At least {MIN_PASSWORD} characters (or leave it empty to generate one).")
        password = password or generate_password()
        with self.db.session() as session:
            user = self._user(session, user_id)
            if user.source != LOCAL:
                raise AccountError("password", "Single sign-on accounts have no password here.")
            user.password_hash = self.hasher.hash(password)
            session.add(user)
            _sign_out(session, user.id)
        return password

    @staticmethod
    def _user(session: Session, user_id: int) -> ConsoleUser:
        user = session.get(ConsoleUser, user_id)
        if user is None:
            raise NotFound(f"console account {user_id} does not exist", param="user")
        return user

    @staticmethod
    def _keep_an_admin(session: Session, user: ConsoleUser, change: str) -> None:
        others = session.execute(
            select(func.count())
            .select_from(ConsoleUser)
            .where(ConsoleUser.role == "admin", ConsoleUser.disabled.is_(False), ConsoleUser.id != user.id)
        ).scalar_one()
        if others == 0:
            raise AccountError("role", f"{user.login} is the last enabled admin and cannot be {change}.")

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


def _sign_out(session: Session, user_id: int | None) -> None:
    session.execute(ConsoleSession.__table__.delete().where(ConsoleSession.user_id == user_id))
