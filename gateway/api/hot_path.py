"""The gateway's Litestar app, with its hottest route answered in front of Litestar's layers.

``POST /v1/chat/completions`` is most of a gateway's traffic. Litestar would take each such
request through its exception middleware, its router, the request-id middleware and the route's
own wrapper before the handler runs, and wrap ``send`` twice on the way out; on the overhead
benchmark that was about 5% of the gateway's CPU per request. ``GatewayApp`` hands a request
whose path is exactly a hot route's straight to that route's plain ASGI handler, doing itself
the two things those layers did for it: the request id (``x-request-id``), and turning an
exception raised before the response began into the same OpenAI-shaped error
(``gateway.api.errors.EXCEPTION_HANDLERS``). Every other request, and every other spelling of
the path, goes through Litestar as usual, where the same handler is also registered.
"""

from __future__ import annotations

from collections.abc import Mapping

from litestar import Litestar, Request
from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.api.errors import EXCEPTION_HANDLERS
from gateway.api.request_id import RequestIds, request_id_middleware, stamp


class GatewayApp(Litestar):
    """Litestar, plus ``hot_routes``: exact paths answered by a plain ASGI handler in front of the router."""

    hot_routes: Mapping[str, ASGIApp] = {}

    def serve_hot(self, routes: Mapping[str, ASGIApp]) -> None:
        """Answer these exact paths directly (each is also registered with Litestar for every other spelling).

        Refused (``RuntimeError``) when the app has anything app-wide that the hot path would
        skip: middleware other than the request id's, other exception handlers, CORS, allowed
        hosts, or ``before_send`` / ``after_exception`` hooks."""
        skipped = [
            name
            for name, present in (
                ("middleware", list(self.middleware) != [request_id_middleware]),
                ("exception handlers", dict(self.exception_handlers) != EXCEPTION_HANDLERS),
                ("CORS", self.cors_config is not None),
                ("allowed hosts", bool(self.allowed_hosts)),
                ("before_send hooks", bool(self.before_send)),
                ("after_exception hooks", bool(self.after_exception)),
            )
            if present
        ]
        if skipped:
            raise RuntimeError(f"the hot path would skip this app's {', '.join(skipped)}")
        self.hot_routes = dict(routes)
        self._request_ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        handler = self.hot_routes.get(scope.get("path")) if scope["type"] == "http" else None
        if handler is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = scope["litestar_app"] = self
        stamped = stamp(scope, send, self._request_ids.new())
        try:
            await handler(scope, receive, stamped)
        except Exception as exc:
            if stamped.started:
                raise
            request: Request = Request(scope, receive, stamped)
            response = _handler_for(exc)(request, exc)
            await response.to_asgi_response(app=None, request=request)(scope, receive, stamped)


def _handler_for(exc: Exception):
    for kind in type(exc).__mro__:
        handler = EXCEPTION_HANDLERS.get(kind)
        if handler is not None:
            return handler
    return EXCEPTION_HANDLERS[Exception]
