"""The gateway's own exceptions; each knows its HTTP status and OpenAI error type.

    GatewayError                      500 api_error
     ├── InvalidRequest               400 invalid_request_error
     │    └── PayloadTooLarge         413
     ├── AuthenticationFailed         401 authentication_error
     ├── PermissionDenied             403 permission_denied
     ├── NotFound                     404 not_found_error
     │    └── ModelNotFound           404 model_not_found
     ├── Conflict                     409 conflict
     ├── RateLimited                  429 rate_limit_exceeded (with headers)
     └── UpstreamFailed               502/503 upstream_error: every target failed

They are turned into ``{"error": {...}}`` responses in one place (``gateway.api.errors``).
"""

from __future__ import annotations


class GatewayError(Exception):
    status = 500
    type = "api_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = {}


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class PayloadTooLarge(InvalidRequest):
    status = 413
    code = "request_too_large"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_denied"


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"


class ModelNotFound(NotFound):
    type = "invalid_request_error"
    code = "model_not_found"


class Conflict(GatewayError):
    status = 409
    type = "conflict"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_exceeded"
    code = "rate_limit_exceeded"


class UpstreamFailed(GatewayError):
    status = 502
    type = "upstream_error"
    code = "upstream_unavailable"

    def __init__(self, message: str, *, status: int = 502) -> None:
        super().__init__(message)
        self.status = status
