"""The OpenAI-compatible endpoints under ``/v1`` (``/v1/chat/completions`` lives in ``chat_route``)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from backends.openai_protocol import model_entry
from gateway.api.chat_route import bearer_token
from gateway.api.request_id import request_id_of
from gateway.directory import Caller
from gateway.services import Services


async def authenticated_caller(request: Request, services: NamedDependency[Services]) -> Caller:
    """Dependency: the caller behind the request's API key."""
    return await services.directory.authenticate(bearer_token(request.headers.get("authorization")))


class OpenAIController(Controller):
    """``/v1/models`` and ``/v1/embeddings``."""

    path = "/v1"
    include_in_schema = False

    @post("/embeddings", status_code=200)
    async def embeddings(
        self, request: Request, services: NamedDependency[Services], caller: NamedDependency[Caller]
    ) -> Response:
        outcome = await services.embeddings.embed(caller, await request.body(), request_id_of(request.scope))
        return Response(outcome.body(), media_type="application/json", headers=outcome.headers)

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
