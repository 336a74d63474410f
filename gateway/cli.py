"""The `obgw` command line: serve, migrate, and manage partners, clients and keys."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import structlog
import typer

from gateway.files import PrivateFileError
from gateway.http.server import server_options
from gateway.partners.models import ClientKind, RegistryError
from gateway.partners.service import Registry
from gateway.revocations import Revocations
from gateway.settings import Settings
from gateway.startup import DemoPartner, prepare, seed_demo, walkthrough
from gateway.storage.database import Database
from gateway.telemetry.logging import configure_logging
from gateway.telemetry.logging import flush as flush_logs
from policies.messages import DEFAULT_LANGUAGE, Language, Text, negotiate
from policies.revocation import RevocationList
from policies.vocabulary import OPS_SCOPES

T = TypeVar("T")
log = structlog.get_logger("obgw")


def _commands(help: str, **options: Any) -> typer.Typer:
    """A command group. Plain help, not Typer's rich panels: those show a type after every
    option, flags included (`--json <bool>`), though a flag takes no value."""
    return typer.Typer(no_args_is_help=True, help=help, rich_markup_mode=None, **options)


app = _commands("obgw open-banking gateway", add_completion=False)
partners_app = _commands("Scene partners")
clients_app = _commands("OAuth clients of partners")
ops_app = _commands("Clients for bank operations")
keys_app = _commands("Token signing keys")
db_app = _commands("Database schema")
app.add_typer(partners_app, name="partners")
app.add_typer(clients_app, name="clients")
app.add_typer(ops_app, name="ops-clients")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValueError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc
    # What a command prints stays clean; its logs (migrations, warnings) go to stderr.
    configure_logging("WARNING", json=settings.log_json, stream="stderr")
    return settings


def _registry(db: Database) -> Registry:
    """The registry for a one-off command (revocations reach the gateways through the feed)."""
    return Registry(db, Revocations(RevocationList()))


def _with_registry(action: Callable[[Registry], Awaitable[T]]) -> T:
    async def run() -> T:
        db = Database(_settings().database_url)
        try:
            await db.upgrade() if db.is_sqlite else None
            return await action(_registry(db))
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except (RegistryError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _print(obj: dict[str, Any], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False) if as_json else text)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""

    async def run() -> None:
        db = Database(_settings().database_url)
        try:
            await db.upgrade()
        finally:
            await db.dispose()

    asyncio.run(run())
    typer.echo("database is at the latest schema")


@partners_app.command("create")
def partners_create(
    name: Annotated[str, typer.Option("--name")],
    sector: Annotated[
        str, typer.Option("--sector", help="government|school|hospital|transport|other")
    ],
    tier: Annotated[str, typer.Option("--tier", help="bronze|silver|gold")] = "bronze",
    as_json: JsonFlag = False,
) -> None:
    """Register a scene partner."""
    partner = _with_registry(lambda r: r.create_partner(name, sector, tier))
    _print(
        {
            "partner_id": partner.id,
            "name": partner.name,
            "sector": partner.sector,
            "tier": partner.tier,
        },
        as_json,
        f"created partner {partner.id} ({partner.name})",
    )


@partners_app.command("list")
def partners_list(as_json: JsonFlag = False) -> None:
    """List partners."""
    partners = _with_registry(lambda r: r.list_partners())
    rows = [
        {"partner_id": p.id, "name": p.name, "sector": p.sector, "tier": p.tier, "status": p.status}
        for p in partners
    ]
    if as_json:
        typer.echo(json.dumps({"data": rows}, ensure_ascii=False))
        return
    for row in rows:
        typer.echo(
            f"{row['partner_id']}  {row['status']:<9} {row['tier']:<6} "
            f"{row['sector']:<10} {row['name']}"
        )


@partners_app.command("suspend")
def partners_suspend(partner_id: str) -> None:
    """Suspend a partner: its clients stop getting tokens and its tokens stop working."""

    if not _with_registry(lambda r: r.suspend_partner(partner_id)):
        typer.echo(f"no partner {partner_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"partner {partner_id} suspended")


@clients_app.command("create")
def clients_create(
    partner: Annotated[str, typer.Option("--partner")],
    scopes: Annotated[str, typer.Option("--scopes", help='Space-separated, e.g. "products"')],
    redirect_uri: Annotated[list[str] | None, typer.Option("--redirect-uri")] = None,
    jwks_file: Annotated[
        Path | None, typer.Option("--jwks-file", exists=True, dir_okay=False)
    ] = None,
    secret: Annotated[bool, typer.Option("--secret", help="client_secret_basic")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Register an OAuth client: private_key_jwt with --jwks-file, or a secret with --secret."""
    if (jwks_file is None) == (not secret):
        typer.echo("error: give exactly one of --jwks-file or --secret", err=True)
        raise typer.Exit(2)
    try:
        jwks = json.loads(jwks_file.read_text()) if jwks_file else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        typer.echo(f"error: {jwks_file} is not a JSON Web Key Set: {exc}", err=True)
        raise typer.Exit(2) from exc
    issued = _with_registry(
        lambda r: r.create_client(
            partner_id=partner,
            scopes=scopes.split(),
            redirect_uris=redirect_uri or [],
            jwks=jwks,
        )
    )
    out: dict[str, Any] = {
        "client_id": issued.client.client_id,
        "token_endpoint_auth_method": issued.client.auth_method,
        "scopes": list(issued.client.scopes),
    }
    if issued.client_secret:
        out["client_secret"] = issued.client_secret
    text = f"created client {issued.client.client_id}"
    if issued.client_secret:
        text += f"\nclient secret (shown once): {issued.client_secret}"
    _print(out, as_json, text)


@clients_app.command("list")
def clients_list(
    partner: Annotated[str | None, typer.Option("--partner")] = None, as_json: JsonFlag = False
) -> None:
    """List clients."""
    clients = _with_registry(lambda r: r.list_clients(partner))
    rows = [
        {
            "client_id": c.client_id,
            "partner_id": c.partner_id,
            "kind": c.kind,
            "status": c.status,
            "auth_method": c.auth_method,
            "scopes": list(c.scopes),
        }
        for c in clients
    ]
    if as_json:
        typer.echo(json.dumps({"data": rows}))
        return
    for c, row in zip(clients, rows, strict=True):
        typer.echo(
            f"{row['client_id']}  {row['status']:<8} {row['partner_id'] or '-':<24} "
            f"{row['auth_method']:<20} {' '.join(c.scopes)}"
        )


@clients_app.command("revoke")
def clients_revoke(client_id: str) -> None:
    """Revoke a client: no new tokens, and its tokens stop working everywhere."""

    if not _with_registry(lambda r: r.revoke_client(client_id)):
        typer.echo(f"no client {client_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"client {client_id} revoked")


@ops_app.command("create")
def ops_clients_create(as_json: JsonFlag = False) -> None:
    """Credentials for the ops API and console (scopes ops:read ops:admin)."""
    issued = _with_registry(
        lambda r: r.create_client(
            partner_id=None, scopes=list(OPS_SCOPES), kind=ClientKind.OPS, name="operations"
        )
    )
    _print(
        {"client_id": issued.client.client_id, "client_secret": issued.client_secret},
        as_json,
        f"ops client {issued.client.client_id}\nsecret (shown once): {issued.client_secret}",
    )


def _with_keys(action: Callable[[Any], Awaitable[T]]) -> T:
    """Run `action` on the signing keys in the database every gateway replica reads."""
    from gateway.files import load_secret
    from gateway.oauth.keys import SigningKeyError
    from gateway.oauth.signing_keys import build_signing_keys

    settings = _settings()

    async def run() -> T:
        db = Database(settings.database_url)
        try:
            await db.upgrade() if db.is_sqlite else None
            keys = build_signing_keys(settings, db, load_secret(settings))
            await keys.ensure()
            return await action(keys)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except SigningKeyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@keys_app.command("rotate")
def keys_rotate(
    alg: Annotated[str, typer.Option("--alg", help="ES256 or PS256")] = "ES256",
    as_json: JsonFlag = False,
) -> None:
    """Make a new signing key active on every replica within seconds; the previous one
    retires: its private part is deleted and its public key stays published until the
    tokens it signed have expired."""
    key = _with_keys(lambda keys: keys.rotate(alg))
    _print({"kid": key.kid, "alg": key.alg}, as_json, f"active signing key {key.kid} ({key.alg})")


@keys_app.command("revoke")
def keys_revoke(kid: str, as_json: JsonFlag = False) -> None:
    """Revoke a compromised signing key: within seconds every replica refuses the tokens it
    signed and drops it from the JWKS; an active key is replaced by a new one."""
    revoked = _with_keys(lambda keys: keys.revoke(kid))
    if revoked is None:
        typer.echo(f"no live signing key {kid}", err=True)
        raise typer.Exit(1)
    key, replacement = revoked
    out: dict[str, Any] = {"revoked": key.kid}
    text = f"signing key {key.kid} revoked"
    if replacement is not None:
        out["active"] = replacement.kid
        text += f"; active signing key {replacement.kid} ({replacement.alg})"
    _print(out, as_json, text)


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """List signing keys and their state (active, retired or revoked)."""
    keys = _with_keys(lambda keys: keys.all())
    rows = [
        {
            "kid": k.kid,
            "alg": k.alg,
            "active": k.is_active,
            "state": k.state,
            "created_at": k.created_at.isoformat(),
            "retired_at": k.retired_at.isoformat() if k.retired_at else None,
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in keys
    ]
    if as_json:
        typer.echo(json.dumps({"data": rows}))
        return
    for row in rows:
        typer.echo(f"{row['kid']}  {row['alg']}  {row['state']}")


DEMO_SANDBOX_ONLY = Text(
    "`obgw demo` works in the sandbox only: unset OBGW_ENVIRONMENT or set it to sandbox.",
    "`obgw demo` 只能在沙箱环境中使用：请取消设置 OBGW_ENVIRONMENT，或将其设为 sandbox。",
)
NOT_A_TERMINAL = Text(
    "The demo partner's client secret is printed only to a terminal: run `obgw demo` in one, "
    "or pass --json to print it as JSON wherever the output goes.",
    "演示合作方的客户端密钥只会打印到终端：请在终端中运行 `obgw demo`，"
    "或加上 --json 以 JSON 格式输出到任意位置。",
)
WORKERS_NEED_REDIS = Text(
    "--workers {workers} needs OBGW_REDIS_URL: without Redis every worker process keeps its own "
    "DPoP replay cache, so one proof would be accepted once per worker. Set "
    "OBGW_REDIS_URL=redis://… (shared by all workers), or run --workers 1.",
    "--workers {workers} 需要设置 OBGW_REDIS_URL：没有 Redis 时，每个工作进程各有一份 DPoP "
    "重放缓存，同一个证明可被每个进程各接受一次。请设置 OBGW_REDIS_URL=redis://…（所有工作进程"
    "共用），或使用 --workers 1。",
)
NOT_SHOWN = (
    "the demo partner's client secret is printed only to a terminal or with --json; "
    "run `obgw demo` for another demo partner"
)


def _language() -> Language:
    """The language of the terminal's locale (`LC_ALL`, `LC_MESSAGES`, `LANG`)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return negotiate(value.split(".", 1)[0].replace("_", "-"))
    return DEFAULT_LANGUAGE


def _say(message: Text, *, err: bool = False) -> None:
    typer.echo(message(_language()), err=err)


def _show_credentials(settings: Settings, partner: DemoPartner, as_json: bool) -> bool:
    """Print a new demo partner's credentials to a terminal, or as JSON when asked; else not."""
    if as_json:
        typer.echo(json.dumps(partner.credentials(settings), ensure_ascii=False))
    elif sys.stdout.isatty():
        _say(walkthrough(settings, partner))
    else:
        return False
    return True


@app.command()
def demo(as_json: JsonFlag = False) -> None:
    """Seed a demo partner (sandbox) and print a ready walkthrough with its credentials."""
    settings = _settings()
    if not settings.is_sandbox:
        _say(DEMO_SANDBOX_ONLY, err=True)
        raise typer.Exit(2)
    if not as_json and not sys.stdout.isatty():
        _say(NOT_A_TERMINAL, err=True)
        raise typer.Exit(2)

    async def seed() -> DemoPartner:
        db = Database(settings.database_url)
        try:
            await db.upgrade() if db.is_sqlite else None
            return await seed_demo(db)
        finally:
            await db.dispose()

    _show_credentials(settings, asyncio.run(seed()), as_json)


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 1,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a new demo partner's credentials as JSON.")
    ] = False,
) -> None:
    """Run the gateway (uvicorn, uvloop, httptools, access log off)."""
    import uvicorn

    os.environ["OBGW_HTTP_PORT"] = str(port)
    settings = _settings()
    # This process is the gateway: its lines go where the gateway's go, in the same form.
    configure_logging(settings.log_level, json=settings.log_json)
    if workers > 1 and not settings.redis_url:
        _say(WORKERS_NEED_REDIS.format(workers=workers), err=True)
        raise typer.Exit(2)
    try:
        created = asyncio.run(prepare(settings))
    except PrivateFileError as exc:
        _say(exc.message, err=True)
        raise typer.Exit(2) from exc
    flush_logs()  # what preparing logged comes before the credentials
    if created is not None:
        shown = _show_credentials(settings, created, as_json)
        log.info(
            "demo_partner",
            partner_id=created.partner_id,
            client_id=created.client_id,
            created=True,
            **({} if shown else {"client_secret_not_shown": NOT_SHOWN}),
        )
    flush_logs()
    try:
        uvicorn.run(
            "gateway.asgi:app", host=host, port=port, workers=workers, **server_options(settings)
        )
    finally:
        flush_logs()  # the server's last lines, whatever ended it


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
