"""The revocation feed that keeps every replica's in-memory revocation list current."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI

from gateway.revocations import RevocationFeed
from gateway.storage.database import Database
from gateway.storage.tables import revocations
from policies.revocation import RevocationList
from tests.factories import services_of


def later(days: int = 1) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


class TestRevocationFeed:
    async def test_start_up_load_respects_reinstatement(self, app: FastAPI) -> None:
        """At start-up, a client revoked then reinstated is not revoked; others are."""
        services = services_of(app)
        db, revocations_ = services.db, services.revocations
        async with db.transaction() as uow:
            await revocations_.record(uow, "client", "cli_back", later())
            await revocations_.record(uow, "client", "cli_back", datetime.now(UTC))
            await revocations_.record(uow, "client", "cli_gone", later())
            await revocations_.record(uow, "jti", "at_old", datetime.now(UTC) - timedelta(1))
        fresh = RevocationList()
        await RevocationFeed(db, fresh, 0.5).load()
        assert fresh.is_revoked("client", "cli_gone")
        assert not fresh.is_revoked("client", "cli_back")
        assert not fresh.is_revoked("jti", "at_old")

    async def test_late_commit_of_a_lower_id_is_seen(self, tmp_path: Path) -> None:
        """An entry whose id is below one already seen still arrives (out-of-order commit)."""
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'feed.db'}")
        await db.upgrade()
        feed = RevocationFeed(db, RevocationList(), 0.5)
        now = datetime.now(UTC)
        async with db.transaction() as uow:
            await uow.conn.execute(
                revocations.insert().values(
                    id=1000, kind="jti", value="first", created_at=now, expires_at=later()
                )
            )
        await feed.poll()
        async with db.transaction() as uow:
            await uow.conn.execute(
                revocations.insert().values(
                    id=999, kind="jti", value="late", created_at=now, expires_at=later()
                )
            )
        await feed.poll()
        assert feed.revoked.is_revoked("jti", "first")
        assert feed.revoked.is_revoked("jti", "late")
        await db.dispose()


class TestHousekeeping:
    async def test_purges_only_what_expired(self, app: FastAPI) -> None:
        """Expired OAuth state is deleted after its grace period; live state stays."""
        from gateway.housekeeping import Housekeeper
        from gateway.storage.tables import used_jtis

        services = services_of(app)
        async with services.db.transaction() as uow:
            await uow.conn.execute(
                used_jtis.insert().values(
                    key="old", expires_at=datetime.now(UTC) - timedelta(hours=2)
                )
            )
            await uow.conn.execute(used_jtis.insert().values(key="live", expires_at=later()))
        done = await Housekeeper({"oauth": services.oauth_state.purge_expired}).run_once()
        assert done["oauth"] >= 1
        async with services.db.read() as conn:
            keys = {r.key for r in await conn.execute(used_jtis.select())}
        assert "old" not in keys
        assert "live" in keys

    async def test_reinstatement_survives_clean_up(self, app: FastAPI) -> None:
        """A reinstated client stays reinstated after clean-up and a restart's load."""
        services = services_of(app)
        async with services.db.transaction() as uow:
            await services.revocations.record(uow, "client", "cli_r", later())
        async with services.db.transaction() as uow:
            await services.revocations.withdraw(uow, "client", "cli_r")
        await services.oauth_state.purge_expired(grace=timedelta(0))
        fresh = RevocationList()
        await RevocationFeed(services.db, fresh, 0.5).load()
        assert not fresh.is_revoked("client", "cli_r")
