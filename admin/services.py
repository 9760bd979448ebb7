"""The console's long-lived objects, built once by ``install_console`` and kept at ``app.state.console``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from admin.accounts import AccountService
from admin.ledger_queries import LedgerQueries
from admin.listings import Listings
from admin.oidc import OidcClient
from admin.sessions import SessionStore
from admin.settings import ConsoleSettings
from admin.throttle import LoginThrottle
from gateway.services import Services
from training.loop import LearningLoop

log = logging.getLogger("admin.console")


@dataclass
class ConsoleServices:
    """The console's long-lived objects, at ``app.state.console``."""

    settings: ConsoleSettings
    services: Services
    secret: str
    accounts: AccountService
    sessions: SessionStore
    throttle: LoginThrottle
    oidc: OidcClient | None
    ledger: LedgerQueries
    listings: Listings
    learning: LearningLoop | None = None

    @classmethod
    def build(cls, settings: ConsoleSettings, services: Services) -> ConsoleServices:
        db = services.db
        return cls(
            settings=settings,
            services=services,
            secret=settings.secret(services.settings.data_dir),
            accounts=AccountService(db),
            sessions=SessionStore(db, settings.session_max_age_seconds, settings.session_idle_seconds),
            throttle=LoginThrottle(db, settings.login_max_failures, settings.login_window_seconds),
            oidc=OidcClient(settings) if settings.oidc_enabled else None,
            ledger=LedgerQueries(db),
            listings=Listings(db),
            learning=LearningLoop.build(services),
        )

    @property
    def attestations(self):
        """The attestation service when the gateway has one (``None`` otherwise)."""
        return getattr(self.services, "attestations", None)

    def bootstrap(self) -> None:
        if not self.settings.local_login:
            return
        password = self.settings.bootstrap_admin_password
        generated = self.accounts.bootstrap(
            self.settings.bootstrap_admin_user, password.get_secret_value() if password else None
        )
        if generated:
            log.warning(
                "console: created the local admin account %r with password %s "
                "(shown only now; set GATEWAY_CONSOLE__BOOTSTRAP_ADMIN_PASSWORD to choose it yourself)",
                self.settings.bootstrap_admin_user,
                generated,
            )
