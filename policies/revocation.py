"""What has been revoked: token ids, consents and clients, as fast in-memory sets.

The gateway feeds this list from the shared database (every replica polls the
revocation feed), so a revoked token is refused everywhere within the poll interval
without any I/O on the request path.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RevocationList:
    """Revoked ids by kind, each with an expiry: `jti`, `consent` (revoked), `consent_expired`
    (ended by its expiry; its tokens are refused with a code that says so), `client`,
    `partner`."""

    KINDS = ("jti", "consent", "consent_expired", "client", "partner")

    def __init__(self) -> None:
        self._revoked: dict[str, dict[str, float]] = {k: {} for k in self.KINDS}
        self._listeners: list[Callable[[str, str], None]] = []

    def add(self, kind: str, value: str, expires_at: float) -> None:
        self._revoked[kind][value] = expires_at
        for listener in self._listeners:
            listener(kind, value)

    def remove(self, kind: str, value: str) -> None:
        self._revoked[kind].pop(value, None)

    def on_revoke(self, listener: Callable[[str, str], None]) -> None:
        """Call `listener(kind, value)` on every revocation (cache invalidation)."""
        self._listeners.append(listener)

    def is_revoked(self, kind: str, value: str | None) -> bool:
        return value is not None and value in self._revoked[kind]

    def purge(self) -> None:
        now = time.time()
        for kind, entries in self._revoked.items():
            self._revoked[kind] = {v: e for v, e in entries.items() if e > now}
