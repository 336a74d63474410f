"""Private files: created whole and readable by the gateway's user alone, from the first byte."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from structlog.testing import capture_logs

from gateway.files import PrivateFileError, create_private, load_secret
from gateway.settings import Settings
from gateway.startup import prepare
from gateway.storage.database import Database
from gateway.storage.tables import partners
from tests.conftest import make_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def file_modes(directory: Path) -> dict[str, int]:
    return {path.name: mode(path) for path in directory.iterdir()}


def file_contents(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in directory.iterdir()}


def open_dir(path: Path) -> Path:
    """A directory that group and others may read (as an older gateway created it)."""
    path.mkdir()
    path.chmod(0o755)
    return path


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: a file's mode is then what its creator asked for."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.fixture
def chmods(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every chmod the code under test makes (each still happens)."""
    calls: list[str] = []

    def spy(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(target: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append(str(target))
            return original(target, *args, **kwargs)

        return call

    monkeypatch.setattr(os, "chmod", spy(os.chmod))
    monkeypatch.setattr(os, "fchmod", spy(os.fchmod))
    monkeypatch.setattr(Path, "chmod", spy(Path.chmod))
    return calls


def _load_secret_at_once(data_dir: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    results.put(load_secret(Settings(data_dir=Path(data_dir))).decode())


def at_once(count: int, action: Callable[[], bytes]) -> list[bytes]:
    """`action` in `count` threads released together; what each returned."""
    barrier = threading.Barrier(count)
    results: list[bytes] = []

    def run() -> None:
        barrier.wait()
        results.append(action())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


class TestPrivateFiles:
    async def test_first_start_creates_private_files_without_chmod(
        self, tmp_path: Path, open_umask: None, chmods: list[str]
    ) -> None:
        """Data dir 0700; secret, keys, demo file and database 0600 as created, never chmod-ed."""
        settings = make_settings(tmp_path)
        data_dir = Path(settings.data_dir)
        created = await prepare(settings)
        assert created is not None
        assert created.client_secret
        db = Database(settings.database_url)
        try:
            async with db.transaction() as uow:  # a write: the -wal and -shm files exist now
                await uow.conn.execute(sa.select(partners.c.id))
            modes = file_modes(data_dir)
            assert {"obgw.db-wal", "obgw.db-shm"} <= set(modes)
            assert mode(data_dir) == 0o700
            assert set(modes.values()) == {0o600}, modes
        finally:
            await db.dispose()
        assert [call for call in chmods if str(data_dir) in call] == []
        assert {"secret.key", "demo.json", "obgw.db"} <= set(modes)

    async def test_demo_file_keeps_no_secret(self, tmp_path: Path) -> None:
        """`demo.json` names the demo partner and client; the secret is nowhere in the data dir."""
        settings = make_settings(tmp_path)
        created = await prepare(settings)
        assert created is not None
        assert created.client_secret
        demo = (Path(settings.data_dir) / "demo.json").read_text()
        assert created.client_id in demo
        assert created.partner_id in demo
        for name, content in file_contents(Path(settings.data_dir)).items():
            assert created.client_secret.encode() not in content, name
        assert await prepare(settings) is None  # later starts create nothing

    def test_concurrent_creators_agree(self, tmp_path: Path) -> None:
        """Sixteen threads creating one file at once all read the same whole content."""
        path = tmp_path / "data" / "shared.bin"
        results = at_once(16, lambda: create_private(path, os.urandom(32).hex().encode()))
        assert len(results) == 16
        assert len(set(results)) == 1
        assert len(results[0]) == 64
        assert path.read_bytes() == results[0]
        assert [p.name for p in path.parent.iterdir()] == ["shared.bin"]  # no staging left

    def test_workers_starting_together_share_one_secret(self, tmp_path: Path) -> None:
        """Processes starting at once on a fresh data dir read one whole `secret.key`."""
        context = multiprocessing.get_context("spawn")
        count = 4
        barrier = context.Barrier(count)
        results = context.Queue()
        data_dir = str(tmp_path / "data")
        workers = [
            context.Process(target=_load_secret_at_once, args=(data_dir, barrier, results))
            for _ in range(count)
        ]
        for worker in workers:
            worker.start()
        secrets = [results.get(timeout=60) for _ in range(count)]
        for worker in workers:
            worker.join(timeout=10)
        assert len(set(secrets)) == 1
        assert len(secrets[0]) == 64
        assert (Path(data_dir) / "secret.key").read_text() == secrets[0]


class TestGatewaySecret:
    def test_fresh_data_dir_gets_a_stable_secret(self, tmp_path: Path) -> None:
        """The first start writes a 64-character secret; the next start reads the same one."""
        settings = make_settings(tmp_path)
        first = load_secret(settings)
        assert len(first) == 64
        assert load_secret(settings) == first

    def test_empty_secret_file_stops_the_start(self, tmp_path: Path) -> None:
        """An empty `secret.key` (a crash while it was written) stops the start, naming it."""
        settings = make_settings(tmp_path)
        path = Path(settings.data_dir) / "secret.key"
        path.parent.mkdir(parents=True)
        path.write_text("")
        with pytest.raises(PrivateFileError) as refused:
            load_secret(settings)
        assert str(path) in str(refused.value)
        assert "backup" in str(refused.value)
        assert "备份" in refused.value.message.zh

    def test_configured_secret_wins(self, tmp_path: Path) -> None:
        """`OBGW_SECRET_KEY` is used as given and no file is written."""
        settings = make_settings(tmp_path, secret_key="k" * 40)
        assert load_secret(settings) == b"k" * 40
        assert not (Path(settings.data_dir) / "secret.key").exists()

    def test_short_secret_is_refused_without_echoing_it(self, tmp_path: Path) -> None:
        """A configured secret under 32 characters is refused; the error does not repeat it."""
        with pytest.raises(ValidationError) as refused:
            make_settings(tmp_path, secret_key="too-short-but-secret")
        assert "OBGW_SECRET_KEY" in str(refused.value)
        assert "too-short-but-secret" not in str(refused.value)


class TestDataDir:
    async def test_existing_open_data_dir_is_reported(self, tmp_path: Path) -> None:
        """A data dir others can read is left as it is and named in a warning with the fix."""
        settings = make_settings(tmp_path)
        data_dir = open_dir(Path(settings.data_dir))
        with capture_logs() as logs:
            await prepare(settings)
        warnings = [line for line in logs if line["event"] == "data_dir_not_private"]
        assert warnings
        assert warnings[0]["fix"] == f"chmod 700 {data_dir}"
        assert mode(data_dir) == 0o755

    async def test_private_data_dir_is_not_reported(self, tmp_path: Path) -> None:
        """A data dir the gateway created (0700) gives no warning."""
        settings = make_settings(tmp_path)
        with capture_logs() as logs:
            await prepare(settings)
        assert [line for line in logs if line["event"] == "data_dir_not_private"] == []


class TestSqliteDatabase:
    async def test_database_file_is_private_before_sqlite_opens_it(
        self, tmp_path: Path, open_umask: None
    ) -> None:
        """The database file exists, empty and 0600, before the first connection, and works."""
        path = tmp_path / "data" / "obgw.db"
        db = Database(f"sqlite+aiosqlite:///{path}")
        try:
            assert path.stat().st_size == 0
            assert mode(path) == 0o600
            await db.upgrade()
            async with db.read() as conn:
                count = sa.select(sa.func.count()).select_from(partners)
                assert (await conn.execute(count)).scalar() == 0
        finally:
            await db.dispose()

    async def test_workers_upgrading_at_once_take_turns(self, tmp_path: Path) -> None:
        """Four engines migrating one fresh SQLite file at once all succeed, one after another."""
        url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'obgw.db'}"
        dbs = [Database(url) for _ in range(4)]
        try:
            results = await asyncio.gather(*(db.upgrade() for db in dbs), return_exceptions=True)
        finally:
            for db in dbs:
                await db.dispose()
        assert results == [None] * 4
