"""``install_console(config, services)``: the admin console as an extension of ``gateway.app.create_app``.

It adds, under ``/admin`` (beside the management API at ``/admin/api``):

- a Router of page and htmx-partial controllers, with the session middleware, CSRF, role
  guards and HTML error pages of its own (the proxy's routes get none of them);
- the Jinja2 template config (``templates/``) and the static files (``static/``, at ``/admin/static``);
- a start-up hook that bootstraps the local admin account;
- a guard on ``/admin/api`` that refuses console sessions without the admin role.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.plugins.htmx import HTMXConfig, HTMXPlugin, HTMXRequest
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from admin import filters
from admin.auth import PUBLIC, ConsoleAuthMiddleware, csrf_middleware, management_api_guard
from admin.controllers import CONTROLLERS
from admin.errors import EXCEPTION_HANDLERS
from admin.services import ConsoleServices
from admin.settings import ConsoleSettings
from gateway.services import Services

log = logging.getLogger("admin.console")


def _asset_dir(name: str) -> Path:
    """``templates/`` or ``static/``: beside the packages (a checkout), else where a wheel puts them."""
    beside = Path(__file__).resolve().parent.parent / name
    return beside if beside.is_dir() else Path(sys.prefix) / "share" / "paramgate" / name


TEMPLATES = _asset_dir("templates")
STATIC = _asset_dir("static")
HTMX_VERSION = "2.0.11"

SECURITY_HEADERS = [
    ResponseHeader(
        name="content-security-policy",
        value="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    ResponseHeader(name="x-frame-options", value="DENY"),
    ResponseHeader(name="x-content-type-options", value="nosniff"),
    ResponseHeader(name="referrer-policy", value="same-origin"),
    ResponseHeader(name="cache-control", value="no-store"),
]


def template_engine() -> JinjaTemplateEngine:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(filters.FILTERS)
    environment.globals["htmx_src"] = f"/admin/static/vendor/htmx-{HTMX_VERSION}.min.js"
    return JinjaTemplateEngine.from_environment(environment)


def install_console(config: AppConfig, services: Services, settings: ConsoleSettings | None = None) -> None:
    """Add the console to the app being configured (see the module docstring)."""
    settings = settings or ConsoleSettings.resolve(services.settings)
    console = ConsoleServices.build(settings, services)

    async def bootstrap(app: Litestar) -> None:
        import anyio.to_thread

        await anyio.to_thread.run_sync(console.bootstrap)

    def provide_console() -> ConsoleServices:
        return console

    pages = Router(
        path="/admin",
        route_handlers=CONTROLLERS,
        middleware=[
            DefineMiddleware(ConsoleAuthMiddleware, exclude_from_auth_key=PUBLIC),
            csrf_middleware(console.secret, settings.cookie_secure),
        ],
        dependencies={"console": Provide(provide_console, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=HTMXRequest,
        response_headers=SECURITY_HEADERS,
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/admin/static",
        directories=[STATIC],
        include_in_schema=False,
        name="console_static",
        cache_control=CacheControlHeader(max_age=300),
    )
    config.route_handlers.extend([pages, static])
    config.template_config = TemplateConfig(engine=template_engine())
    config.plugins.append(HTMXPlugin(HTMXConfig(set_request_class_globally=False)))
    config.on_startup.append(bootstrap)
    config.on_startup.append(console.learning.start)
    config.on_shutdown.append(console.learning.stop)
    config.state["console"] = console
    _guard_management_api(config)


def _guard_management_api(config: AppConfig) -> None:
    """Put ``management_api_guard`` in front of every ``/admin/api`` controller's own token check."""
    from litestar import Controller

    wrapped = 0
    for index, handler in enumerate(config.route_handlers):
        if isinstance(handler, type) and issubclass(handler, Controller) and handler.path.startswith("/admin/api"):
            config.route_handlers[index] = Router(path="/", route_handlers=[handler], guards=[management_api_guard])
            wrapped += 1
    if not wrapped:
        log.warning("console: no /admin/api controller found; console sessions are not checked there")
