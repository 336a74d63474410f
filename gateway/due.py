"""What the passing of time sets in motion: pending payments settle, bills and consents
expire, each with its event.

Every replica runs it every few seconds on real time, and the sandbox runs it at once for a
partner whose virtual clock was moved. Each step is safe to run on several replicas at once:
a change is a conditional update, and only the replica that made it writes the event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from gateway.clock import utcnow

log = structlog.get_logger("obgw.due")

Step = Callable[[str | None, datetime], Awaitable[dict[str, int]]]


class DueWork:
    """Named steps, each `step(partner_id or None for all, now) -> {what: how many}`."""

    def __init__(self, steps: dict[str, Step] | None = None) -> None:
        self.steps: dict[str, Step] = dict(steps or {})

    async def __call__(self, partner_id: str | None, now: datetime) -> dict[str, int]:
        done: dict[str, int] = {}
        for name, step in self.steps.items():
            try:
                done.update(await step(partner_id, now))
            except Exception:
                log.warning("due_work_failed", step=name, exc_info=True)
        return done

    async def everyone(self) -> int:
        """One round for every partner on real time (the periodic job)."""
        done = await self(None, utcnow())
        return sum(done.values())
