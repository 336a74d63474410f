"""The examples in `examples/` run against a live gateway, as a partner would run them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LiveServer, free_port, make_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def live(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else ""
    settings = make_settings(tmp_path, url, issuer=f"http://127.0.0.1:{free_port()}")
    with LiveServer(settings) as server:
        yield server


class TestSchoolTuitionExample:
    def test_a_school_collects_and_reconciles(self, live: LiveServer) -> None:
        """examples/school_tuition.py signs up, issues bills, has them paid online and at the
        bank, and verifies the day's statement; it exits 0."""
        run = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "school_tuition.py"), "--base-url", live.url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "reconciled" in run.stdout
        assert "verified" in run.stdout
