"""The console's one place where exceptions become responses: HTML pages, htmx fragments, sign-in redirects."""

from __future__ import annotations

import logging
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.plugins.htmx import ClientRedirect
from litestar.response import Redirect, Template

from gateway.errors import GatewayError

log = logging.getLogger("admin.errors")

TITLES = {
    400: "Bad request",
    401: "Sign-in required",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    429: "Too many requests",
    500: "Something went wrong",
    502: "Upstream failed",
}


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def error_page(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    template = "_error.html" if _is_htmx(request) else "error.html"
    return Template(
        template_name=template,
        context={"status": status, "title": TITLES.get(status, "Error"), "message": message},
        status_code=status,
        headers=headers,
    )


def not_signed_in(request: Request, exc: NotAuthorizedException) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = f"/admin/login?next={quote(target, safe='/')}"
    if _is_htmx(request):
        current = request.headers.get("hx-current-url", "")
        path = current.split("://", 1)[-1].partition("/")[2]
        return ClientRedirect(f"/admin/login?next={quote('/' + path, safe='/')}" if path else "/admin/login")
    if request.method == "GET":
        return Redirect(login, status_code=302)
    return error_page(request, 401, exc.detail)


def forbidden(request: Request, exc: PermissionDeniedException) -> Response:
    return error_page(request, 403, exc.detail)


def http_error(request: Request, exc: HTTPException) -> Response:
    message = exc.detail if exc.status_code != 404 else f"There is no page at {request.url.path}."
    return error_page(request, exc.status_code, message, getattr(exc, "headers", None))


def gateway_error(request: Request, exc: GatewayError) -> Response:
    return error_page(request, exc.status, exc.message)


def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("console error", extra={"path": request.url.path})
    return error_page(request, 500, "The console had an internal error; it has been logged.")


EXCEPTION_HANDLERS = {
    NotAuthorizedException: not_signed_in,
    PermissionDeniedException: forbidden,
    NotFoundException: http_error,
    HTTPException: http_error,
    GatewayError: gateway_error,
    Exception: internal_error,
}
