"""The one place exceptions become HTTP responses: OpenAI-shaped JSON errors."""

from __future__ import annotations

import logging
import re

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from backends.openai_protocol import error_body
from gateway.errors import GatewayError

log = logging.getLogger("gateway.errors")

_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_MISSING_PARAMETER = re.compile(r"Missing required \w+ parameter '([^']+)'")

_HTTP_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_denied",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_exceeded",
}


def _json(status: int, body: dict, headers: dict[str, str] | None = None) -> Response:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json", headers=headers)


def gateway_error(_: Request, exc: GatewayError) -> Response:
    return _json(exc.status, error_body(exc.message, exc.type, exc.param, exc.code), exc.headers)


def http_error(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    message = exc.detail
    code = param = None
    if status == 413:
        message, code = "The request body is too large.", "request_too_large"
    elif isinstance(exc, NotFoundException):
        message = f"Unknown path: {request.method} {request.url.path}"
    elif isinstance(exc, ValidationException) and exc.extra:
        first = exc.extra[0] if isinstance(exc.extra, list) else exc.extra
        if isinstance(first, dict):
            param = first.get("key") or None
            unknown = _UNKNOWN_FIELD.search(str(first.get("message")))
            if unknown:
                param = unknown.group(1)
            message = f"Invalid value for '{param}': {first.get('message')}" if param else str(first.get("message"))
        else:
            message = f"{exc.detail}: {first}"
    elif isinstance(exc, ValidationException) and (missing := _MISSING_PARAMETER.search(str(message))):
        param = missing.group(1)
    kind = _HTTP_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return _json(status, error_body(message, kind, param, code), getattr(exc, "headers", None))


def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", extra={"path": request.url.path})
    return _json(500, error_body("The gateway had an internal error.", "api_error", None, "internal_error"))


EXCEPTION_HANDLERS = {GatewayError: gateway_error, HTTPException: http_error, Exception: internal_error}
