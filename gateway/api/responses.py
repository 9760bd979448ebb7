"""``/v1/responses``: the OpenAI Responses API, served on top of the chat path, with stored responses."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from gateway.api.chat_route import SSE_HEADERS
from gateway.api.request_id import request_id_of
from gateway.directory import Caller
from gateway.errors import InvalidRequest
from gateway.responses.service import ResponsesOutcome
from gateway.services import Services


def _respond(outcome: ResponsesOutcome) -> Response | Stream:
    if outcome.events is not None:
        return Stream(outcome.events, media_type="text/event-stream", headers={**SSE_HEADERS, **outcome.headers})
    return Response(outcome.body(), media_type="application/json", headers=outcome.headers)


class ResponsesController(Controller):
    """Create (stream and non-stream), retrieve, delete and list the input items of responses."""

    path = "/v1/responses"
    include_in_schema = False

    @post("/", status_code=200)
    async def create_response(
        self, request: Request, services: NamedDependency[Services], caller: NamedDependency[Caller]
    ) -> Response | Stream:
        outcome = await services.responses.create(caller, await request.body(), request_id_of(request.scope))
        return _respond(outcome)

    @get("/{response_id:str}")
    async def retrieve_response(
        self,
        response_id: FromPath[str],
        services: NamedDependency[Services],
        caller: NamedDependency[Caller],
        stream: FromQuery[bool] = False,
        starting_after: FromQuery[int | None] = None,
    ) -> Response | Stream:
        if starting_after is not None and starting_after < 0:
            raise InvalidRequest("'starting_after' must be 0 or more.", param="starting_after")
        outcome = await services.responses.retrieve(caller, response_id, stream=stream, starting_after=starting_after)
        return _respond(outcome)

    @delete("/{response_id:str}", status_code=200)
    async def delete_response(
        self, response_id: FromPath[str], services: NamedDependency[Services], caller: NamedDependency[Caller]
    ) -> dict[str, Any]:
        return await services.responses.delete(caller, response_id)

    @get("/{response_id:str}/input_items")
    async def list_input_items(
        self,
        response_id: FromPath[str],
        services: NamedDependency[Services],
        caller: NamedDependency[Caller],
        after: FromQuery[str | None] = None,
        limit: FromQuery[str] = "20",
        order: FromQuery[str] = "desc",
    ) -> dict[str, Any]:
        return await services.responses.input_items(caller, response_id, after=after, limit=_limit(limit), order=order)


def _limit(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidRequest("'limit' must be an integer between 1 and 100.", param="limit") from None
