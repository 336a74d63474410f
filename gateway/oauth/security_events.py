"""Security events of customer authentication: one log line each, and a counter.

Operations watch failed logins and lock-outs in the log stream (`event="security_event"`)
and in `obgw_security_events_total{kind}`. A line names the partner, the client, the
masked login name and the pushed request (by the hash the store keeps), never a password,
a code or the `request_uri` itself.
"""

from __future__ import annotations

from enum import StrEnum

import structlog

from gateway.ids import sha256_hex
from gateway.telemetry.metrics import Metrics

log = structlog.get_logger("obgw.security")


class SecurityEventKind(StrEnum):
    LOGIN_FAILED = "login_failed"
    OTP_FAILED = "otp_failed"
    AUTHORIZATION_LOCKED = "authorization_locked"
    CUSTOMER_LOCKED = "customer_locked"
    LOCKED_ATTEMPT = "locked_attempt"


def mask_login(login: str) -> str:
    """A login name reduced to its first and last characters (`z***i`)."""
    if len(login) <= 2:
        return "*" * len(login)
    return f"{login[0]}***{login[-1]}"


class SecurityEvents:
    """Records security events in the log and the metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def record(
        self,
        kind: SecurityEventKind,
        *,
        partner_id: str,
        client_id: str,
        request_uri: str,
        login: str | None = None,
    ) -> None:
        log.warning(
            "security_event",
            kind=kind.value,
            partner_id=partner_id,
            client_id=client_id,
            login=mask_login(login) if login is not None else None,
            authorization_request=sha256_hex(request_uri),
        )
        self.metrics.security_event(kind.value)
