"""Who may see what: the session middleware, role guards, CSRF, and the session check on ``/admin/api``.

Permissions are declared once per controller with ``requires_role``; the middleware only
establishes who is signed in (``request.user`` is an ``Identity``).
"""

from __future__ import annotations

import hmac
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.csrf import CSRFMiddleware, generate_csrf_hash
from litestar.types import ASGIApp, Receive, Scope, Send

from admin.sessions import COOKIE
from gateway.errors import PermissionDenied

if TYPE_CHECKING:
    from admin.services import ConsoleServices

CSRF_COOKIE = "pg_csrf"
CSRF_HEADER = "x-csrftoken"
COOKIE_PATH = "/admin"
PUBLIC = "exclude_from_auth"
SCOPE_IDENTITY = "paramgate.console_identity"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def console_of(connection: ASGIConnection) -> ConsoleServices:
    return connection.app.state.console


def client_address(connection: ASGIConnection) -> str:
    return connection.client.host if connection.client else "unknown"


def is_https(connection: ASGIConnection, policy: str) -> bool:
    if policy == "always":
        return True
    if policy == "never":
        return False
    return connection.scope.get("scheme") == "https"


def session_cookie(connection: ASGIConnection, token: str, policy: str, max_age: int) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=token,
        path=COOKIE_PATH,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=is_https(connection, policy),
    )


class ConsoleAuthMiddleware(AbstractAuthenticationMiddleware):
    """Sets ``request.user`` from the session cookie; no valid session → ``NotAuthorizedException``."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        token = connection.cookies.get(COOKIE)
        identity = await anyio.to_thread.run_sync(console_of(connection).sessions.load, token) if token else None
        if identity is None:
            raise NotAuthorizedException("Sign in to use the console.")
        return AuthenticationResult(user=identity, auth=token)


def requires_role(*roles: str):
    """A guard admitting only the given roles (403 for anyone else who is signed in)."""

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        if connection.user.role not in roles:
            raise PermissionDeniedException(f"The {connection.user.role} role cannot open this page.")

    guard.__name__ = f"requires_{'_or_'.join(roles)}"
    return guard


def csrf_middleware(secret: str, policy: str):
    """Litestar's double-submit CSRF check on the console's routes, its cookie ``Secure`` over https."""
    config = CSRFConfig(
        secret=secret,
        cookie_name=CSRF_COOKIE,
        cookie_path=COOKIE_PATH,
        header_name=CSRF_HEADER,
        cookie_samesite="lax",
        cookie_secure=policy == "always",
    )
    secure = replace(config, cookie_secure=policy != "never")

    def middleware(app: ASGIApp) -> ASGIApp:
        plain, tls = CSRFMiddleware(app, config), CSRFMiddleware(app, secure)

        async def call(scope: Scope, receive: Receive, send: Send) -> None:
            await (tls if scope.get("scheme") == "https" else plain)(scope, receive, send)

        return call

    return middleware


def csrf_tokens_match(secret: str, header: str | None, cookie: str | None) -> bool:
    """The same check as ``CSRFMiddleware``, for requests outside the console's own routes."""

    def decode(token: str | None) -> str | None:
        if not token or len(token) <= 64:
            return None
        value, digest = token[:64], token[64:]
        return value if hmac.compare_digest(digest, generate_csrf_hash(value, secret)) else None

    mine, theirs = decode(header), decode(cookie)
    return mine is not None and theirs is not None and hmac.compare_digest(mine, theirs)


async def management_api_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """On ``/admin/api``: a console session that is not an admin's gets 403; a session's writes need CSRF.

    Requests with an ``Authorization`` header are left to the API's own token check. An admin
    session is recorded in the scope (``paramgate.console_identity``) for that check to accept.
    """
    if connection.headers.get("authorization"):
        return
    token = connection.cookies.get(COOKIE)
    console: Any = getattr(connection.app.state, "console", None)
    if not token or console is None:
        return
    identity = await anyio.to_thread.run_sync(console.sessions.load, token)
    if identity is None:
        return
    if identity.role != "admin":
        raise PermissionDenied(f"The {identity.role} role cannot use the management API.", code="insufficient_role")
    if connection.method not in _SAFE_METHODS and not csrf_tokens_match(
        console.secret, connection.headers.get(CSRF_HEADER), connection.cookies.get(CSRF_COOKIE)
    ):
        raise PermissionDenied("CSRF token verification failed.", code="csrf_failed")
    connection.scope[SCOPE_IDENTITY] = identity  # type: ignore[typeddict-unknown-key]


__all__ = [
    "PUBLIC",
    "ConsoleAuthMiddleware",
    "client_address",
    "console_of",
    "csrf_middleware",
    "management_api_guard",
    "requires_role",
]
