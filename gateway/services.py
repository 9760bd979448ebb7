"""Everything a request handler needs, built once per app by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.apikeys import ApiKeyService
from gateway.backend_pool import BackendPool
from gateway.chat import ChatService
from gateway.directory import Directory
from gateway.dispatch import Dispatcher
from gateway.embeddings import EmbeddingsService
from gateway.metrics import Metrics
from gateway.route_config import RouteService
from gateway.routing import Router
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.tenants import TenantService


@dataclass
class Services:
    """The app's long-lived objects; handlers reach them through dependency injection."""

    settings: Settings
    db: Database
    metrics: Metrics
    pool: BackendPool
    directory: Directory
    router: Router
    chat: ChatService
    embeddings: EmbeddingsService
    tenants: TenantService
    keys: ApiKeyService
    routes: RouteService

    @classmethod
    def build(cls, settings: Settings) -> Services:
        db = Database(settings.database_url)
        metrics = Metrics()
        pool = BackendPool(settings.effective_backends(), settings.resilience, settings.data_dir, metrics)
        router = Router(pool.backends, pool.context_windows, settings.routing.fallback)
        dispatcher = Dispatcher(pool.states, metrics, settings.resilience.retry_backoff_seconds)
        catalog = {name: backend.models for name, backend in pool.backends.items()}
        return cls(
            settings=settings,
            db=db,
            metrics=metrics,
            pool=pool,
            directory=Directory(db, settings.directory_refresh_seconds),
            router=router,
            chat=ChatService(router, dispatcher, metrics),
            embeddings=EmbeddingsService(router, dispatcher, metrics),
            tenants=TenantService(db),
            keys=ApiKeyService(db),
            routes=RouteService(db, catalog),
        )

    async def start(self) -> None:
        self.db.migrate()
        await self.directory.start()
        await self.pool.start()

    async def stop(self) -> None:
        await self.pool.close()
        await self.directory.stop()
        self.db.dispose()
