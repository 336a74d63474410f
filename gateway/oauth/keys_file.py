"""`keys.json` of earlier versions: imported into the database on the first start, then removed.

Earlier versions kept the signing keys in `<data dir>/keys.json` (or a Kubernetes Secret
mounted there). The first start on an empty `signing_keys` table imports the active key,
sealed, and the retired keys that may still have valid tokens, public parts only; the file,
which holds private keys in the clear, is then deleted where that is possible.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from gateway.clock import utcnow
from gateway.oauth.keys import KeySealer, SigningKey

log = structlog.get_logger("obgw.keys")
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


def read_keys_file(path: Path, sealer: KeySealer, grace: timedelta) -> list[SigningKey]:
    """The keys of `path` to import (empty if there is no file or no active key in it)."""
    try:
        entries = json.loads(path.read_text())["keys"]
    except FileNotFoundError:  # none, or another replica imported and removed it meanwhile
        return []
    now = utcnow()
    imported = []
    for entry in entries:
        jwk = dict(entry["jwk"])
        retired = entry.get("retired_at")
        key = SigningKey(
            kid=entry["kid"],
            alg=entry["alg"],
            public_jwk={k: v for k, v in jwk.items() if k not in _PRIVATE_MEMBERS},
            created_at=datetime.fromtimestamp(entry["created_at"], UTC),
            is_active=retired is None,
            retired_at=datetime.fromtimestamp(retired, UTC) if retired else None,
        )
        if key.is_active:
            key = replace(key, sealed=sealer.seal(key.kid, jwk))
        if key.is_active or key.is_trusted(now, grace):
            imported.append(key)
    return imported if any(k.is_active for k in imported) else []


def forget_keys_file(path: Path) -> None:
    """Delete the imported file, or say that it should go (a read-only mount)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError:
        log.warning(
            "signing_keys_file_kept",
            path=str(path),
            hint="the keys now live in the database: delete this file or its Secret",
        )
    else:
        log.info("signing_keys_imported", path=str(path))
