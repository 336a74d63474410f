"""Time: the gateway's wall clock, each partner's clock, and the China business day.

In the sandbox every partner has a virtual clock that only moves forward (`POST
/sandbox/clock/advance`); what depends on a partner's time (payment settlement, bill expiry,
the day a settlement belongs to) asks `PartnerClock.now(partner_id)`. In production each
partner's clock is the wall clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Protocol

from sandbox.core import SandboxCore

CHINA_TZ = timezone(timedelta(hours=8), "CST")


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def business_day(moment: datetime) -> date:
    """The China business day (UTC+8) `moment` falls on."""
    return moment.astimezone(CHINA_TZ).date()


def day_window(day: date) -> tuple[datetime, datetime]:
    """`[start, end)` of a China business day, in UTC."""
    start = datetime.combine(day, time(), CHINA_TZ).astimezone(UTC)
    return start, start + timedelta(days=1)


class PartnerClock(Protocol):
    """A partner's current time."""

    async def now(self, partner_id: str) -> datetime: ...


class WallClock:
    """Every partner lives in real time (production)."""

    async def now(self, partner_id: str) -> datetime:
        return utcnow()


class SandboxClock:
    """Each partner lives on the sandbox bank's virtual clock."""

    def __init__(self, bank: SandboxCore) -> None:
        self.bank = bank

    async def now(self, partner_id: str) -> datetime:
        return await self.bank.current_time(partner_id)
