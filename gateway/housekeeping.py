"""Periodic clean-up of expired state, in the background of every replica."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("obgw.housekeeping")


class Housekeeper:
    """Runs each job every `interval` seconds (± 10 % jitter, so replicas spread out)."""

    def __init__(
        self, jobs: dict[str, Callable[[], Awaitable[int]]], interval: float = 600.0
    ) -> None:
        self.jobs = jobs
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> dict[str, int]:
        """Run every job now; a failing job is logged and the others still run."""
        done: dict[str, int] = {}
        for name, job in self.jobs.items():
            try:
                done[name] = await job()
            except Exception:
                log.warning("housekeeping_failed", job=name, exc_info=True)
        return done

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval * random.uniform(0.9, 1.1))  # noqa: S311
            removed = await self.run_once()
            if any(removed.values()):
                log.info("housekeeping", **removed)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="housekeeping")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
