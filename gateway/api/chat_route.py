"""``POST /v1/chat/completions`` as a plain ASGI handler: the gateway's hottest route.

A raised ``GatewayError`` still becomes the one OpenAI-shaped error (``gateway.api.errors``);
what this handler skips is the per-request machinery the route does not use: dependency
resolution, the signature model, and building a ``Response`` object to turn it into ASGI
messages. On the overhead benchmark that machinery was about an eighth of the CPU the gateway
spent per request. ``GatewayApp`` (``gateway.api.hot_path``) calls it for the exact path in
front of Litestar's layers; Litestar routes the path's other spellings to it.
"""

from __future__ import annotations

from litestar.exceptions import MethodNotAllowedException
from litestar.handlers import ASGIRouteHandler, asgi
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.api.request_id import request_id_of
from gateway.errors import AuthenticationFailed, PayloadTooLarge
from gateway.services import Services

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_JSON = (b"content-type", b"application/json")


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower-case, as ASGI servers give them)."""
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def bearer_token(authorization: str | None) -> str | None:
    """The key in ``Authorization: Bearer <key>``; ``None`` when the header is absent."""
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Malformed Authorization header: expected 'Bearer <key>'.")
    return token.strip()


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body; ``PayloadTooLarge`` as soon as it is known to exceed ``limit`` bytes."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge("The request body is too large.")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("The request body is too large.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def chat_completions_handler(services: Services, max_body_bytes: int) -> ASGIApp:
    """The plain ASGI handler, bound to this app's services (``GatewayApp`` serves it directly)."""

    async def chat_completions(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            raise MethodNotAllowedException(headers={"allow": "POST"})
        authorization = header(scope, b"authorization")
        caller = await services.directory.authenticate(
            bearer_token(authorization.decode("latin-1") if authorization is not None else None)
        )
        body = await read_body(scope, receive, max_body_bytes)
        in_body = (header(scope, b"x-gateway-attestation") or b"").lower() == b"body"
        outcome = await services.chat.complete(caller, body, request_id_of(scope), in_body)
        if outcome.relay is not None:
            stream = ASGIStreamingResponse(
                iterator=outcome.events(),
                media_type="text/event-stream",
                headers={**SSE_HEADERS, **outcome.headers},
                status_code=200,
            )
            await stream(scope, receive, send)
            return
        payload = outcome.body()
        headers = [_JSON, (b"content-length", str(len(payload)).encode())]
        headers += [(name.encode(), value.encode("latin-1")) for name, value in outcome.headers.items()]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload, "more_body": False})

    return chat_completions


def chat_completions_route(handler: ASGIApp) -> ASGIRouteHandler:
    """The same handler as a Litestar route, for the path's other spellings and the OpenAPI schema."""
    return asgi(CHAT_COMPLETIONS_PATH, copy_scope=False)(handler)
