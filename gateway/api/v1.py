"""The OpenAI-compatible endpoints under ``/v1``."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from backends.openai_protocol import model_entry
from gateway.api.request_id import request_id_of
from gateway.chat import ChatOutcome
from gateway.directory import Caller
from gateway.errors import AuthenticationFailed
from gateway.services import Services

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Malformed Authorization header: expected 'Bearer <key>'.")
    return token.strip()


async def authenticated_caller(request: Request, services: NamedDependency[Services]) -> Caller:
    """Dependency: the caller behind the request's API key."""
    return await services.directory.authenticate(bearer_token(request))


def _respond(outcome: ChatOutcome) -> Response | Stream:
    if outcome.relay is not None:
        return Stream(outcome.events(), media_type="text/event-stream", headers={**_SSE_HEADERS, **outcome.headers})
    return Response(outcome.body(), media_type="application/json", headers=outcome.headers)


class OpenAIController(Controller):
    """``/v1/chat/completions``, ``/v1/models`` and ``/v1/embeddings``."""

    path = "/v1"
    include_in_schema = False

    @post("/chat/completions", status_code=200)
    async def chat_completions(
        self, request: Request, services: NamedDependency[Services], caller: NamedDependency[Caller]
    ) -> Response | Stream:
        in_body = request.headers.get("x-gateway-attestation", "").lower() == "body"
        outcome = await services.chat.complete(caller, await request.body(), request_id_of(request.scope), in_body)
        return _respond(outcome)

    @post("/embeddings", status_code=200)
    async def embeddings(
        self, request: Request, services: NamedDependency[Services], caller: NamedDependency[Caller]
    ) -> Response:
        return _respond(await services.embeddings.embed(caller, await request.body(), request_id_of(request.scope)))

    @get("/models")
    async def models(self, services: NamedDependency[Services], caller: NamedDependency[Caller]) -> dict:
        entries = [
            model_entry(alias, **target.backend.describe_model(target.model))
            for alias, target in services.router.aliases(caller.tenant).items()
        ]
        knowledge = services.knowledge
        if knowledge is not None and knowledge.router.has_intents(caller.tenant.id):
            entries.append(model_entry(knowledge.settings.intent_alias, owned_by="paramgate", intent_router=True))
        return {"object": "list", "data": entries}

    @get("/models/{model_id:path}")
    async def model(
        self, model_id: FromPath[str], services: NamedDependency[Services], caller: NamedDependency[Caller]
    ) -> dict:
        model_id = model_id.lstrip("/")
        target = services.router.plan(caller.tenant, model_id).targets[0]
        return model_entry(model_id, **target.backend.describe_model(target.model))
