"""``POST /v1/responses``: the OpenAI Responses API, served on top of the chat path."""

from __future__ import annotations

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.response import Stream

from gateway.api.request_id import request_id_of
from gateway.directory import Caller
from gateway.responses import ResponsesOutcome, ResponsesService
from gateway.services import Services

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def _respond(outcome: ResponsesOutcome) -> Response | Stream:
    if outcome.events is not None:
        return Stream(outcome.events, media_type="text/event-stream", headers={**_SSE_HEADERS, **outcome.headers})
    return Response(outcome.body(), media_type="application/json", headers=outcome.headers)


class ResponsesController(Controller):
    """``POST /v1/responses`` (stream and non-stream); nothing is stored, so there is no ``GET``."""

    path = "/v1"
    include_in_schema = False

    @post("/responses", status_code=200)
    async def create_response(
        self, request: Request, services: NamedDependency[Services], caller: NamedDependency[Caller]
    ) -> Response | Stream:
        service = ResponsesService(services.chat)
        return _respond(await service.create(caller, await request.body(), request_id_of(request.scope)))
