"""``create_app(settings)``: the gateway and its management API as one Litestar app."""

from __future__ import annotations

from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from gateway.api.admin import AdminApiController
from gateway.api.errors import EXCEPTION_HANDLERS
from gateway.api.ops import healthz, metrics, readyz
from gateway.api.request_id import request_id_middleware
from gateway.api.v1 import OpenAIController, authenticated_caller
from gateway.services import Services
from gateway.settings import Settings


def create_app(settings: Settings) -> Litestar:
    """Build the app; nothing is connected until the app starts."""
    services = Services.build(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar):
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    def provide_services() -> Services:
        return services

    app = Litestar(
        route_handlers=[OpenAIController, AdminApiController, healthz, readyz, metrics],
        dependencies={
            "services": Provide(provide_services, sync_to_thread=False),
            "caller": Provide(authenticated_caller),
        },
        middleware=[request_id_middleware],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="ParamGate management API", version="0.1.0", path="/schema"),
        debug=False,
        logging_config=None,
    )
    app.state.services = services
    return app
