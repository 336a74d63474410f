"""The shape of the code base: layer rules hold and the schema matches its migrations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.settings import Settings
from gateway.storage.database import Database
from gateway.storage.tables import metadata

ROOT = Path(__file__).resolve().parent.parent


class TestLayers:
    def test_import_contracts_hold(self) -> None:
        """policies and adapters never import the gateway; the sandbox is injected
        (the contracts in pyproject.toml, checked by import-linter)."""
        linter = Path(sys.executable).with_name("lint-imports")
        result = subprocess.run(
            [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 broken" in result.stdout


class TestMigrations:
    async def test_migrations_build_exactly_the_declared_schema(self, settings: Settings) -> None:
        """After every migration, the database matches `gateway.storage.tables` (no drift)."""
        db = Database(settings.database_url)
        try:
            await db.upgrade()

            def differences(connection: sa.Connection) -> list[Any]:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                return list(compare_metadata(context, metadata))

            async with db.read() as conn:
                drift = await conn.run_sync(differences)
        finally:
            await db.dispose()
        assert drift == []
