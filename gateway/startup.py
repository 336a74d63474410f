"""What `obgw serve` does before the server starts, once for all its workers.

It makes the data directory (0700), the gateway secret, the signing keys and, on SQLite, the
database at the latest schema, so workers starting together find them ready instead of racing
to create them. In the sandbox on embedded defaults it seeds a demo partner on first start;
the demo partner's client secret exists only in what `obgw serve` or `obgw demo` prints then
(`demo.json` keeps the ids alone), and no log line ever carries it.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from gateway.files import create_private, load_secret, private_dir
from gateway.oauth.signing_keys import build_signing_keys
from gateway.partners.service import Registry
from gateway.revocations import Revocations
from gateway.settings import Settings
from gateway.storage.database import Database
from policies.messages import Text
from policies.revocation import RevocationList
from policies.vocabulary import CUSTOMER_SCOPES, PARTNER_SCOPES

log = structlog.get_logger("obgw")
DEMO_FILE = "demo.json"


@dataclass(frozen=True, slots=True)
class DemoPartner:
    """The sandbox's demo partner; `client_secret` is known only right after its creation."""

    partner_id: str
    client_id: str
    client_secret: str | None = None

    def credentials(self, settings: Settings) -> dict[str, Any]:
        """What `--json` prints: where the gateway is and how to get a token."""
        return {
            "portal": f"{settings.issuer}/",
            "issuer": settings.issuer,
            "partner_id": self.partner_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }


WALKTHROUGH = Text(
    """obgw sandbox at {base}
  portal:     {base}/
  metadata:   {base}/.well-known/oauth-authorization-server
  partner:    {partner_id}
  client_id:  {client_id}
  secret:     {client_secret}
              (shown this once and never logged: keep it now)

Try it:
  TOKEN=$(curl -s -u {client_id}:{client_secret} \\
      -d grant_type=client_credentials -d scope=products {base}/oauth/token \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer $TOKEN" {base}/v1/products/deposits
""",
    """obgw 沙箱已在 {base} 运行
  门户：      {base}/
  元数据：    {base}/.well-known/oauth-authorization-server
  合作方：    {partner_id}
  client_id： {client_id}
  密钥：      {client_secret}
              （仅显示这一次，不会写入日志：请立即保存）

试一试：
  TOKEN=$(curl -s -u {client_id}:{client_secret} \\
      -d grant_type=client_credentials -d scope=products {base}/oauth/token \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer $TOKEN" {base}/v1/products/deposits
""",
)


def walkthrough(settings: Settings, partner: DemoPartner) -> Text:
    """The walkthrough a person reads in the terminal, with the demo partner's credentials."""
    return WALKTHROUGH.format(
        base=settings.issuer,
        partner_id=partner.partner_id,
        client_id=partner.client_id,
        client_secret=partner.client_secret,
    )


async def seed_demo(db: Database) -> DemoPartner:
    """A new demo partner with a client that has every partner and customer scope."""
    registry = Registry(db, Revocations(RevocationList()))
    partner = await registry.create_partner("Demo School 示例学校", "school", "silver")
    issued = await registry.create_client(
        partner_id=partner.id,
        scopes=[*PARTNER_SCOPES, *CUSTOMER_SCOPES],
        redirect_uris=["http://127.0.0.1/callback"],
        name="demo",
    )
    return DemoPartner(partner.id, issued.client.client_id, issued.client_secret)


async def prepare(settings: Settings) -> DemoPartner | None:
    """Make everything the workers need; the demo partner when this start created it."""
    data_dir = Path(settings.data_dir)
    _check_private(private_dir(data_dir))
    secret = load_secret(settings)
    if not settings.is_sqlite:
        return None  # a shared database is migrated by its own job; replicas then agree on keys
    db = Database(settings.database_url)
    try:
        await db.upgrade()
        await build_signing_keys(settings, db, secret).ensure()
        if not settings.is_sandbox:
            return None
        marker = data_dir / DEMO_FILE
        if marker.exists():
            known = json.loads(marker.read_bytes())
            log.info("demo_partner", partner_id=known["partner_id"], client_id=known["client_id"])
            return None
        partner = await seed_demo(db)
    finally:
        await db.dispose()
    ids = {"partner_id": partner.partner_id, "client_id": partner.client_id}
    create_private(marker, json.dumps(ids).encode())
    return partner


def _check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "data_dir_not_private",
            path=str(path),
            mode=f"{mode:04o}",
            fix=f"chmod 700 {path}",
        )
