"""The `obgw` command line: serve, migrate, and manage partners, clients and keys."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from gateway.partners.models import ClientKind, RegistryError
from gateway.partners.service import Registry
from gateway.revocations import Revocations
from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.telemetry.logging import configure_logging
from policies.revocation import RevocationList
from policies.vocabulary import CUSTOMER_SCOPES, OPS_SCOPES, PARTNER_SCOPES

T = TypeVar("T")
app = typer.Typer(no_args_is_help=True, help="obgw open-banking gateway", add_completion=False)
partners_app = typer.Typer(no_args_is_help=True, help="Scene partners")
clients_app = typer.Typer(no_args_is_help=True, help="OAuth clients of partners")
ops_app = typer.Typer(no_args_is_help=True, help="Clients for bank operations")
keys_app = typer.Typer(no_args_is_help=True, help="Token signing keys")
db_app = typer.Typer(no_args_is_help=True, help="Database schema")
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
    from gateway.app import load_secret, signing_keys
    from gateway.oauth.keys import SigningKeyError

    settings = _settings()

    async def run() -> T:
        db = Database(settings.database_url)
        try:
            await db.upgrade() if db.is_sqlite else None
            keys = signing_keys(settings, db, load_secret(settings))
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


async def _seed_demo(settings: Settings) -> dict[str, Any]:
    db = Database(settings.database_url)
    try:
        await db.upgrade() if db.is_sqlite else None
        registry = _registry(db)
        partner = await registry.create_partner("Demo School 示例学校", "school", "silver")
        issued = await registry.create_client(
            partner_id=partner.id,
            scopes=[*PARTNER_SCOPES, *CUSTOMER_SCOPES],
            redirect_uris=["http://127.0.0.1/callback"],
            name="demo",
        )
    finally:
        await db.dispose()
    return {
        "partner_id": partner.id,
        "client_id": issued.client.client_id,
        "client_secret": issued.client_secret,
    }


def _walkthrough(settings: Settings, demo: dict[str, Any]) -> str:
    base = settings.issuer
    return f"""obgw sandbox at {base}
  portal:     {base}/
  metadata:   {base}/.well-known/oauth-authorization-server
  partner:    {demo["partner_id"]}
  client_id:  {demo["client_id"]}
  secret:     {demo["client_secret"]}

Try it:
  TOKEN=$(curl -s -u {demo["client_id"]}:{demo["client_secret"]} \\
      -d grant_type=client_credentials -d scope=products {base}/oauth/token \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer $TOKEN" {base}/v1/products/deposits
"""


@app.command()
def demo() -> None:
    """Seed a demo partner (sandbox) and print a ready walkthrough."""
    settings = _settings()
    if not settings.is_sandbox:
        typer.echo("`obgw demo` is for the sandbox environment", err=True)
        raise typer.Exit(2)
    typer.echo(_walkthrough(settings, asyncio.run(_seed_demo(settings))))


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 1,
) -> None:
    """Run the gateway (uvicorn, uvloop, httptools, access log off)."""
    import os

    import uvicorn

    os.environ["OBGW_HTTP_PORT"] = str(port)
    settings = _settings()
    if settings.is_sandbox and settings.is_sqlite:
        marker = Path(settings.data_dir) / "demo.json"
        if not marker.exists():
            demo_client = asyncio.run(_seed_demo(settings))
            marker.write_text(json.dumps(demo_client))
            marker.chmod(0o600)
        typer.echo(_walkthrough(settings, json.loads(marker.read_text())))
    uvicorn.run(
        "gateway.asgi:app",
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's loggers propagate to the JSON handler
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
