"""``create_app(settings)``: the gateway and its management API as one Litestar app.

Other parts of the product (the admin console) plug in as extensions: callables that receive
the app's ``AppConfig`` and ``Services`` before the app is built, so the proxy never imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from gateway.api.adapters import AdaptersApiController
from gateway.api.admin import AdminApiController
from gateway.api.attestations import AttestationController
from gateway.api.chat_route import CHAT_COMPLETIONS_PATH, chat_completions_handler, chat_completions_route
from gateway.api.errors import EXCEPTION_HANDLERS
from gateway.api.hot_path import GatewayApp
from gateway.api.knowledge import KnowledgeApiController
from gateway.api.ops import healthz, metrics, readyz
from gateway.api.request_id import request_id_middleware
from gateway.api.responses import ResponsesController
from gateway.api.v1 import OpenAIController, authenticated_caller
from gateway.guardrails import GuardrailEngine
from gateway.services import Services
from gateway.settings import Settings

Extension = Callable[[AppConfig, Services], None]


def create_app(
    settings: Settings, extensions: Sequence[Extension] = (), guardrail_engine: GuardrailEngine | None = None
) -> GatewayApp:
    """Build the app; nothing is connected until the app starts.

    ``guardrail_engine`` lets several apps in one process share one engine (its Presidio and
    classifier take seconds to load); by default each app builds its own.
    """
    services = Services.build(settings, guardrail_engine)
    chat_completions = chat_completions_handler(services, settings.max_body_bytes)

    @asynccontextmanager
    async def lifespan(app: Litestar):
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    def provide_services() -> Services:
        return services

    config = AppConfig(
        route_handlers=[
            chat_completions_route(chat_completions),
            OpenAIController,
            ResponsesController,
            AttestationController,
            AdminApiController,
            AdaptersApiController,
            KnowledgeApiController,
            healthz,
            readyz,
            metrics,
        ],
        dependencies={
            "services": Provide(provide_services, sync_to_thread=False),
            "caller": Provide(authenticated_caller),
        },
        middleware=[request_id_middleware],
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="ParamGate management API", version="0.1.0", path="/schema"),
        debug=False,
        logging_config=None,
    )
    for extension in extensions:
        extension(config, services)
    app = GatewayApp.from_config(config)
    app.serve_hot({CHAT_COMPLETIONS_PATH: chat_completions})
    app.state.services = services
    return app
