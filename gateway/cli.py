"""The ``gateway`` command: serve, tenants, keys, demo data."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gateway.errors import GatewayError
from gateway.settings import Settings


def _open(args: argparse.Namespace):
    from gateway.storage.database import Database

    settings = Settings.load(args.config)
    db = Database(settings.database_url)
    db.migrate()
    return settings, db


def served_app(settings: Settings):
    """The app ``gateway serve`` runs: the gateway, its console, and a heap settled after start-up."""
    from admin import install_console
    from gateway.app import create_app
    from gateway.heap import settle_heap_after_start

    return create_app(settings, extensions=[install_console, settle_heap_after_start])


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.jsonlog import configure_logging

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings.load(args.config, **overrides)
    configure_logging(settings.log_level)
    uvicorn.run(
        served_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        loop="auto",
        http="auto",
        timeout_graceful_shutdown=10,
    )
    return 0


def _limit(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def cmd_tenant_create(args: argparse.Namespace) -> int:
    from gateway.tenants import TenantCreate, TenantService
    from gateway.validation import check

    _, db = _open(args)
    spec = check(
        {
            "name": args.name,
            "rpm": args.rpm,
            "tps": args.tps,
            "daily_tokens": args.daily_tokens,
            "max_concurrency": args.max_concurrency,
            "monthly_budget": args.monthly_budget,
        },
        TenantCreate,
    )
    tenant = TenantService(db).create(spec)
    print(
        f"created tenant {tenant.name} (rpm {_limit(tenant.rpm)}, tps {_limit(tenant.tps)}, "
        f"daily tokens {_limit(tenant.daily_tokens)})"
    )
    return 0


def cmd_tenant_list(args: argparse.Namespace) -> int:
    from gateway.tenants import TenantService

    _, db = _open(args)
    rows = [("NAME", "ENABLED", "RPM", "TPS", "DAILY TOKENS", "CONCURRENCY")]
    for t in TenantService(db).list():
        rows.append(
            (
                t.name,
                "yes" if t.enabled else "no",
                _limit(t.rpm),
                _limit(t.tps),
                _limit(t.daily_tokens),
                _limit(t.max_concurrency),
            )
        )
    _table(rows)
    return 0


def cmd_key_create(args: argparse.Namespace) -> int:
    from gateway.apikeys import ApiKeyService, KeyCreate
    from gateway.validation import check

    _, db = _open(args)
    spec = check({"name": args.name or "", "expires_at": args.expires_at}, KeyCreate)
    key, raw = ApiKeyService(db).create(args.tenant, spec)
    print(f"key id: {key.id}", file=sys.stderr)
    print("the key is shown once; store it now:", file=sys.stderr)
    print(raw)
    return 0


def cmd_key_list(args: argparse.Namespace) -> int:
    from gateway.apikeys import ApiKeyService

    _, db = _open(args)
    rows = [("ID", "PREFIX", "NAME", "CREATED", "EXPIRES", "LAST USED", "STATUS")]
    for k in ApiKeyService(db).list(args.tenant):
        when = lambda v: v.strftime("%Y-%m-%d %H:%M") if v else "-"  # noqa: E731
        rows.append(
            (
                k.id,
                k.prefix + "…",
                k.name or "-",
                when(k.created_at),
                when(k.expires_at),
                when(k.last_used_at),
                "revoked" if k.revoked_at else "active",
            )
        )
    _table(rows)
    return 0


def cmd_key_revoke(args: argparse.Namespace) -> int:
    from gateway.apikeys import ApiKeyService

    _, db = _open(args)
    key, tenant = ApiKeyService(db).revoke(args.key_id)
    print(f"revoked {key.id} of tenant {tenant}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.demo import seed_demo

    settings, db = _open(args)
    for line in seed_demo(db, settings):
        print(line)
    return 0


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def _open_attestations(args: argparse.Namespace):
    from gateway.attestation.service import AttestationService

    settings, db = _open(args)
    return AttestationService.from_settings(db, settings.attestation, settings.data_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="ParamGate: an OpenAI-compatible LLM gateway")
    parser.add_argument("--config", help="TOML config file (default: $GATEWAY_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway and its admin API")
    serve.add_argument("--config", default=argparse.SUPPRESS, help="TOML config file")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    tenant = commands.add_parser("tenant", help="manage tenants").add_subparsers(dest="action", required=True)
    create = tenant.add_parser("create", help="create a tenant")
    create.add_argument("name")
    create.add_argument("--rpm", type=int, help="requests per minute")
    create.add_argument("--tps", type=int, help="tokens per second")
    create.add_argument("--daily-tokens", type=int, help="tokens per day")
    create.add_argument("--max-concurrency", type=int, help="requests in flight at once")
    create.add_argument("--monthly-budget", type=float, help="spend per calendar month (UTC), pricing currency")
    create.set_defaults(func=cmd_tenant_create)
    tenant.add_parser("list", help="list tenants").set_defaults(func=cmd_tenant_list)

    key = commands.add_parser("key", help="manage API keys").add_subparsers(dest="action", required=True)
    kcreate = key.add_parser("create", help="issue a key (printed once)")
    kcreate.add_argument("tenant")
    kcreate.add_argument("--name", help="a label for the key")
    kcreate.add_argument("--expires-at", help="ISO 8601 time after which the key stops working")
    kcreate.set_defaults(func=cmd_key_create)
    klist = key.add_parser("list", help="list a tenant's keys")
    klist.add_argument("tenant")
    klist.set_defaults(func=cmd_key_list)
    krevoke = key.add_parser("revoke", help="revoke a key")
    krevoke.add_argument("key_id")
    krevoke.set_defaults(func=cmd_key_revoke)

    commands.add_parser("demo", help="seed the demo tenants and print their keys").set_defaults(func=cmd_demo)
    from gateway.attestation.cli import register

    register(commands, _open_attestations)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except GatewayError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
