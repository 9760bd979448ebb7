"""Gives every request an id and every response the ``x-request-id`` header."""

from __future__ import annotations

import random
import secrets

from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"


class RequestIds:
    """Unique, unpredictable-enough request ids without a system call per request.

    96 random bits from a generator seeded once from the OS (``secrets``); ids are only
    identifiers (everything fetched by id is also scoped to the caller's tenant), so they need
    to be unique across replicas, not secret. ``secrets.token_hex`` per request cost about 3%
    of the gateway's CPU under load.
    """

    def __init__(self) -> None:
        self._random = random.Random(secrets.randbits(128))

    def new(self) -> str:
        return f"req_{self._random.getrandbits(96):024x}"


def request_id_of(scope: Scope) -> str:
    return scope["state"]["request_id"]


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Pure ASGI middleware (no per-request objects beyond the id itself)."""
    new_request_id = RequestIds().new

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        header = (REQUEST_ID_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await app(scope, receive, send_with_id)

    return middleware
