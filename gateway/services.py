"""Everything a request handler needs, built once per app by ``create_app``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.accounting.ledger import Ledger
from gateway.accounting.price_admin import PriceService
from gateway.accounting.pricing import PriceBook
from gateway.accounting.spool import Spool
from gateway.accounting.usage import UsageService
from gateway.adapters.service import Adapters
from gateway.apikeys import ApiKeyService
from gateway.attestation.service import AttestationService
from gateway.backend_pool import BackendPool
from gateway.chat import ChatService
from gateway.directory import Directory
from gateway.dispatch import Dispatcher
from gateway.embeddings import EmbeddingsService
from gateway.guarding import Guard
from gateway.guardrail_policies import PolicyBook, PolicyService
from gateway.guardrails import GuardrailEngine
from gateway.knowledge.service import Knowledge, reachable_aliases
from gateway.limits.limiter import Limiter
from gateway.limits.memory import InMemoryLimiter
from gateway.metering import Meter
from gateway.metrics import Metrics
from gateway.route_config import RouteService
from gateway.routing import Router
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.responses.service import ResponsesService
from gateway.responses.store import ResponseStore
from gateway.tenants import TenantService
from gateway.traffic_samples import TrafficSampler


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
    limiter: Limiter
    ledger: Ledger
    prices: PriceBook
    price_admin: PriceService
    usage: UsageService
    attestations: AttestationService
    guard: Guard
    policies: PolicyService
    owns_guardrail_engine: bool = True
    _warming: asyncio.Task | None = None
    sampler: TrafficSampler | None = None
    responses: ResponsesService | None = None
    adapters: Adapters | None = None
    knowledge: Knowledge | None = None

    def __post_init__(self) -> None:
        self.chat.sampler = self.sampler
        self.chat.canary = self.adapters.canary if self.adapters else None
        self.chat.knowledge = self.knowledge.request if self.knowledge else None
        if self.responses is None:
            self.responses = ResponsesService(self.chat, ResponseStore(self.db, self.settings.responses))

    @classmethod
    def build(cls, settings: Settings, guardrail_engine: GuardrailEngine | None = None) -> Services:
        """Build every service; ``guardrail_engine`` may be shared by several apps in one process (tests)."""
        db = Database(settings.database_url)
        metrics = Metrics()
        pool = BackendPool(settings.effective_backends(), settings.resilience, settings.data_dir, metrics)
        router = Router(pool.backends, pool.context_windows, settings.routing.fallback)
        dispatcher = Dispatcher(pool.states, metrics, settings.resilience.retry_backoff_seconds)
        catalog = {name: backend.models for name, backend in pool.backends.items()}
        limiter = build_limiter(settings, metrics)
        ledger = Ledger(
            db, Spool(settings.data_dir / "spool", settings.ledger.fsync), settings.ledger.flush_interval_seconds
        )
        prices = PriceBook(settings.pricing, {name: backend.kind for name, backend in pool.backends.items()})
        directory = Directory(db, settings.directory_refresh_seconds)
        directory.reload_hooks.append(prices.load_overrides)
        policy_book = PolicyBook()
        directory.reload_hooks.append(policy_book.load)
        guard = Guard(guardrail_engine or GuardrailEngine(), policy_book, metrics, settings.guardrails.enabled)
        sampler = TrafficSampler(db, guard)
        directory.reload_hooks.append(sampler.load)
        aliases = reachable_aliases(db, router.default_models)
        knowledge = Knowledge.build(settings.knowledge, db, settings.data_dir, aliases)
        directory.reload_hooks.append(knowledge.book.load)
        meter = Meter(limiter, ledger, prices, metrics)
        attestations = AttestationService.from_settings(db, settings.attestation, settings.data_dir)
        adapters = Adapters.build(settings, db, pool.backends, attestations.audit.append)
        directory.reload_hooks.append(adapters.book.load)
        router.adapters = adapters.book
        default_completion = settings.limits.default_completion_tokens
        return cls(
            settings=settings,
            db=db,
            metrics=metrics,
            pool=pool,
            directory=directory,
            router=router,
            chat=ChatService(router, dispatcher, meter, attestations, guard, default_completion),
            embeddings=EmbeddingsService(router, dispatcher, meter),
            tenants=TenantService(db),
            keys=ApiKeyService(db),
            routes=RouteService(db, catalog),
            limiter=limiter,
            ledger=ledger,
            prices=prices,
            price_admin=PriceService(db, catalog),
            usage=UsageService(db),
            attestations=attestations,
            guard=guard,
            policies=PolicyService(db, guard.engine.validators),
            owns_guardrail_engine=guardrail_engine is None,
            sampler=sampler,
            adapters=adapters,
            knowledge=knowledge,
        )

    async def start(self) -> None:
        self.db.migrate()
        await self.responses.store.start()
        await asyncio.to_thread(self.attestations.start)
        await self.ledger.start()
        await self.limiter.start()
        await self.directory.start()
        await self.pool.start()
        if self.adapters is not None:
            await self.adapters.start()
        if self.knowledge is not None:
            await self.knowledge.start()
        if self.sampler is not None:
            self.sampler.start()
        if self.settings.guardrails.enabled and self.settings.guardrails.warm_on_start:
            self._warming = asyncio.create_task(self.guard.engine.warm())

    @property
    def warming(self) -> asyncio.Task | None:
        """The background warm-up started by ``start`` (guardrail models), if any."""
        return self._warming

    async def stop(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
            await asyncio.gather(self._warming, return_exceptions=True)
        if self.owns_guardrail_engine:
            self.guard.engine.close()
        if self.adapters is not None:
            await self.adapters.stop()
        await self.pool.close()
        await self.limiter.aclose()
        await self.ledger.stop()
        if self.knowledge is not None:
            await self.knowledge.stop()
        await self.directory.stop()
        await asyncio.to_thread(self.attestations.close)
        if self.sampler is not None:
            await asyncio.to_thread(self.sampler.stop)
        await self.responses.store.stop()
        self.db.dispose()


def build_limiter(settings: Settings, metrics: Metrics) -> Limiter:
    """In-memory for one process; Redis (with the configured failure mode) when ``limits.redis_url`` is set."""
    config = settings.limits
    local = InMemoryLimiter(config.daily_reset_hour_utc, config.lease_seconds)
    if not config.redis_url:
        return local
    from gateway.limits.redis_limiter import RedisLimiter
    from gateway.limits.resilient import ResilientLimiter

    shared = RedisLimiter(
        config.redis_url,
        config.daily_reset_hour_utc,
        config.lease_seconds,
        timeout=config.redis_timeout_seconds,
        pool_timeout=config.redis_timeout_seconds,
        key_prefix=config.redis_key_prefix,
    )
    return ResilientLimiter(
        shared,
        local,
        fail_open=config.redis_failure == "open",
        on_fallback=lambda mode: metrics.limiter_fallbacks.labels(mode).inc(),
    )

