"""Sign-in and sign-out: the local account form, OpenID Connect (start and callback), logout."""

from __future__ import annotations

import hmac
from datetime import UTC, timedelta
from typing import Annotated, Any

import anyio.to_thread
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlmodel import select

from admin.accounts import OIDC
from admin.auth import COOKIE_PATH, PUBLIC, client_address, is_https, session_cookie
from admin.forms import first
from admin.models import ConsoleOidcFlow, utcnow
from admin.oidc import CALLBACK_PATH, OidcError, state_hash
from admin.services import ConsoleServices
from admin.sessions import COOKIE

FormBody = URLEncodedBody[dict[str, Any]]
OIDC_COOKIE = "pg_oidc_state"
OIDC_COOKIE_PATH = "/admin/oidc"
_FLOW_TTL = timedelta(minutes=10)


def safe_next(value: str | None) -> str:
    """Only paths inside the console; anything else (other hosts, ``//x``, ``\\x``) goes home."""
    if not value or not value.startswith("/admin") or value.startswith("//") or "\\" in value:
        return "/admin/"
    if value.startswith("/admin/login") or value.startswith("/admin/oidc"):
        return "/admin/"
    return value


def login_page(
    console: ConsoleServices,
    request: Request,
    *,
    status: int = 200,
    error: str | None = None,
    username: str = "",
    next_url: str = "/admin/",
    headers: dict[str, str] | None = None,
) -> Template:
    return Template(
        template_name="login.html",
        context={
            "error": error,
            "username": username,
            "next": next_url,
            "local_login": console.settings.local_login,
            "oidc_label": console.settings.oidc_label if console.oidc else None,
        },
        status_code=status,
        headers=headers,
    )


def signed_in(console: ConsoleServices, request: Request, token: str, next_url: str) -> Response:
    old = request.cookies.get(COOKIE)
    response = Redirect(safe_next(next_url), status_code=303)
    response.set_cookie(
        session_cookie(request, token, console.settings.cookie_secure, console.settings.session_max_age_seconds)
    )
    if old:
        console.sessions.delete(old)
    return response


class SignInController(Controller):
    path = "/"
    opt = {PUBLIC: True}

    @get("/", opt={PUBLIC: False}, sync_to_thread=False)
    def home(self, request: Request) -> Redirect:
        return Redirect("/admin/dashboard" if request.user.role == "admin" else "/admin/queue", status_code=302)

    @get("/login", sync_to_thread=True)
    def login_form(
        self, console: NamedDependency[ConsoleServices], request: Request, next: FromQuery[str | None] = None
    ) -> Response:
        token = request.cookies.get(COOKIE)
        if token and console.sessions.load(token) is not None:
            return Redirect(safe_next(next), status_code=302)
        return login_page(console, request, next_url=safe_next(next))

    @post("/login", status_code=200, sync_to_thread=True)
    def login(self, console: NamedDependency[ConsoleServices], request: Request, data: FormBody) -> Response:
        if not console.settings.local_login:
            raise NotFoundException("Local sign-in is turned off; use single sign-on.")
        username, password, next_url = first(data, "username"), str(data.get("password") or ""), first(data, "next")
        client = client_address(request)
        wait = console.throttle.retry_after(client, username)
        if wait:
            return login_page(
                console,
                request,
                status=429,
                username=username,
                next_url=safe_next(next_url),
                error=f"Too many failed sign-ins. Try again in {wait} seconds.",
                headers={"retry-after": str(wait)},
            )
        identity = console.accounts.authenticate(username, password) if username and password else None
        if identity is None:
            console.throttle.failed(client, username)
            return login_page(
                console,
                request,
                status=401,
                username=username,
                next_url=safe_next(next_url),
                error="Wrong user name or password.",
            )
        console.throttle.succeeded(username)
        return signed_in(console, request, console.sessions.create(identity, client), next_url)

    @post("/logout", status_code=200)
    async def logout(self, console: NamedDependency[ConsoleServices], request: Request) -> Response:
        """End the console session; a single sign-on user is then sent to the provider's logout, if it has one."""
        token = request.cookies.get(COOKIE)
        identity = await anyio.to_thread.run_sync(console.sessions.load, token) if token else None
        if token:
            await anyio.to_thread.run_sync(console.sessions.delete, token)
        provider_logout = None
        if identity is not None and identity.source == OIDC and console.oidc is not None:
            base = console.settings.oidc_redirect_base or str(request.base_url).rstrip("/")
            provider_logout = await console.oidc.logout_url(f"{base}/admin/login")
        response: Response
        if provider_logout:
            # a page that moves on by itself: CSP form-action forbids redirecting a form post off-site
            response = Template(template_name="signed_out.html", context={"provider_logout": provider_logout})
        else:
            response = Redirect("/admin/login", status_code=303)
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
        return response

    @get("/oidc/start")
    async def oidc_start(
        self, console: NamedDependency[ConsoleServices], request: Request, next: FromQuery[str | None] = None
    ) -> Response:
        if console.oidc is None:
            raise NotFoundException("Single sign-on is not configured.")
        try:
            auth = await console.oidc.begin(_redirect_uri(console, request))
        except OidcError as exc:
            return login_page(console, request, status=502, error=f"Single sign-on is unavailable: {exc}")
        flow = ConsoleOidcFlow(
            state_hash=state_hash(auth.state),
            code_verifier=auth.code_verifier,
            nonce=auth.nonce,
            next_url=safe_next(next),
        )
        await anyio.to_thread.run_sync(_save_flow, console, flow)
        response = Redirect(auth.url, status_code=303)
        response.set_cookie(
            key=OIDC_COOKIE,
            value=auth.state,
            path=OIDC_COOKIE_PATH,
            max_age=int(_FLOW_TTL.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=is_https(request, console.settings.cookie_secure),
        )
        return response

    @get("/oidc/callback")
    async def oidc_callback(
        self,
        console: NamedDependency[ConsoleServices],
        request: Request,
        code: FromQuery[str | None] = None,
        oauth_state: Annotated[str | None, QueryParameter(name="state")] = None,
        error: FromQuery[str | None] = None,
        error_description: FromQuery[str | None] = None,
    ) -> Response:
        if console.oidc is None:
            raise NotFoundException("Single sign-on is not configured.")
        if error:
            return _sso_failed(console, request, 401, f"The identity provider said: {error_description or error}.")
        cookie = request.cookies.get(OIDC_COOKIE, "")
        if not code or not oauth_state or not hmac.compare_digest(cookie.encode(), oauth_state.encode()):
            return _sso_failed(console, request, 400, "This sign-in did not start in this browser; please start again.")
        flow = await anyio.to_thread.run_sync(_take_flow, console, state_hash(oauth_state))
        if flow is None:
            return _sso_failed(console, request, 400, "This sign-in expired or was already used; please start again.")
        try:
            login = await console.oidc.complete(code, flow.code_verifier, flow.nonce, _redirect_uri(console, request))
        except OidcError as exc:
            return _sso_failed(console, request, 401, str(exc))
        if login.role is None:
            shown = ", ".join(login.role_values) or "nothing"
            return _sso_failed(
                console,
                request,
                403,
                f"You signed in as {login.name}, but no console role is mapped to your account "
                f"(claim {console.settings.oidc_role_claim!r} has {shown}).",
            )
        identity = await anyio.to_thread.run_sync(
            console.accounts.oidc_user, login.issuer, login.subject, login.role, login.name, login.email
        )
        if identity is None:
            return _sso_failed(console, request, 403, "This account is disabled in the console.")
        token = await anyio.to_thread.run_sync(console.sessions.create, identity, client_address(request))
        response = await anyio.to_thread.run_sync(signed_in, console, request, token, flow.next_url)
        response.delete_cookie(OIDC_COOKIE, path=OIDC_COOKIE_PATH)
        return response


def _redirect_uri(console: ConsoleServices, request: Request) -> str:
    base = console.settings.oidc_redirect_base or str(request.base_url).rstrip("/")
    return base + CALLBACK_PATH


def _sso_failed(console: ConsoleServices, request: Request, status: int, message: str) -> Response:
    response = login_page(console, request, status=status, error=message)
    response.delete_cookie(OIDC_COOKIE, path=OIDC_COOKIE_PATH)
    return response


def _save_flow(console: ConsoleServices, flow: ConsoleOidcFlow) -> None:
    with console.services.db.session() as session:
        session.add(flow)
        session.execute(ConsoleOidcFlow.__table__.delete().where(ConsoleOidcFlow.created_at < utcnow() - _FLOW_TTL))


def _take_flow(console: ConsoleServices, digest: str) -> ConsoleOidcFlow | None:
    with console.services.db.session() as session:
        flow = session.exec(select(ConsoleOidcFlow).where(ConsoleOidcFlow.state_hash == digest)).first()
        if flow is None:
            return None
        session.delete(flow)
        created = flow.created_at if flow.created_at.tzinfo else flow.created_at.replace(tzinfo=UTC)
        return flow if created > utcnow() - _FLOW_TTL else None
