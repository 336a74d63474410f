"""`obgw serve` as a process: what it prints, what it logs, what it refuses."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx

from bench import grants
from tests.conftest import REDIS_URL, free_port, service_missing

ROOT = Path(__file__).resolve().parents[2]
OBGW = [sys.executable, "-c", "from gateway.cli import main; main()"]


def gateway_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBGW_")}
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {
        **env,
        "PYTHONPATH": pythonpath,
        "OBGW_DATA_DIR": str(data_dir),
        "OBGW_LOG_LEVEL": "INFO",
        **extra,
    }


class Serve:
    """`obgw serve` on a free loopback port; its output kept in files (or read from a pty)."""

    def __init__(self, data_dir: Path, *args: str, terminal: bool = False, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [*OBGW, "serve", "--port", str(self.port), *args]
        self.env = gateway_env(data_dir, **env)
        self.terminal = terminal
        self.logs = data_dir.parent / f"serve-{self.port}"
        self._terminal_out = bytearray()
        self._reader: threading.Thread | None = None

    def __enter__(self) -> Serve:
        self.logs.mkdir(parents=True, exist_ok=True)
        self._stderr = (self.logs / "stderr").open("wb")
        stdout: IO[bytes] | int
        if self.terminal:
            self._master, stdout = pty.openpty()
        else:
            stdout = self._stdout = (self.logs / "stdout").open("wb")
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=self._stderr,
        )
        if self.terminal:
            assert isinstance(stdout, int)
            os.close(stdout)
            self._reader = threading.Thread(target=self._read_terminal, daemon=True)
            self._reader.start()
        deadline = time.monotonic() + 40
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"obgw serve exited early: {self.stderr()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("obgw serve did not become healthy")
            time.sleep(0.2)

    def _read_terminal(self) -> None:
        while True:
            ready, _, _ = select.select([self._master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self._master, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                self._terminal_out += chunk
            elif self.process.poll() is not None:
                return

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
            os.close(self._master)
        self._stderr.close()
        if not self.terminal:
            self._stdout.close()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stdout(self) -> str:
        if self.terminal:
            return self._terminal_out.decode().replace("\r\n", "\n")
        return (self.logs / "stdout").read_text()

    def stderr(self) -> str:
        return (self.logs / "stderr").read_text()


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every non-empty line of `text` as a JSON object (fails on any other line)."""
    lines = []
    for line in text.splitlines():
        if line.strip():
            parsed = json.loads(line)
            assert isinstance(parsed, dict), line
            lines.append(parsed)
    return lines


def events(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("event") == name]


def token_status(url: str, client_id: str, secret: str) -> int:
    response = httpx.post(
        url + "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "products"},
        auth=(client_id, secret),
        timeout=10,
    )
    return response.status_code


def private_modes(data_dir: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in data_dir.iterdir()}


class TestServe:
    def test_credentials_are_printed_once_and_never_logged(self, tmp_path: Path) -> None:
        """`--json` prints the new demo client's secret once; no log line, now or later, has it."""
        data_dir = tmp_path / "data"
        with Serve(data_dir, "--json") as first:
            with httpx.Client(base_url=first.url) as http:
                http.get("/v1/products/deposits")  # a request log line too
            [credentials] = [o for o in json_lines(first.stdout()) if "client_secret" in o]
            secret = credentials["client_secret"]
            assert token_status(first.url, credentials["client_id"], secret) == 200
            modes = private_modes(data_dir)
        output = first.stdout() + first.stderr()
        assert output.count(secret) == 1
        lines = json_lines(output)
        [started] = events(lines, "gateway_started")
        assert started["portal"] == f"{first.url}/"
        [demo] = events(lines, "demo_partner")
        assert demo["client_id"] == credentials["client_id"]
        assert demo["created"] is True
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert {"obgw.db", "obgw.db-wal", "obgw.db-shm", "secret.key"} <= set(modes)
        assert set(modes.values()) == {0o600}, modes

        with Serve(data_dir, "--json") as again:
            assert token_status(again.url, credentials["client_id"], secret) == 200
        output = again.stdout() + again.stderr()
        assert secret not in output
        [demo] = events(json_lines(output), "demo_partner")
        assert demo["client_id"] == credentials["client_id"]
        assert "created" not in demo

    def test_first_start_in_a_terminal_shows_the_walkthrough(self, tmp_path: Path) -> None:
        """In a terminal the first start prints the walkthrough; every other line is JSON."""
        with Serve(tmp_path / "data", terminal=True) as served:
            walkthrough, _, _ = served.stdout().partition("\n\n{")
            assert "client_id:" in walkthrough
            assert "/oauth/token" in walkthrough
            secret = walkthrough.split("secret:", 1)[1].split()[0]
            client_id = walkthrough.split("client_id:", 1)[1].split()[0]
            assert token_status(served.url, client_id, secret) == 200
        _, _, logs = served.stdout().partition("\n\n{")
        lines = json_lines("{" + logs + served.stderr())
        assert events(lines, "gateway_started")
        assert events(lines, "demo_partner")
        assert secret not in "{" + logs + served.stderr()

    def test_first_start_on_a_pipe_keeps_the_secret_off_it(self, tmp_path: Path) -> None:
        """Without a terminal or `--json` the secret is not printed; a JSON line says why."""
        with Serve(tmp_path / "data") as served:
            pass
        lines = json_lines(served.stdout() + served.stderr())
        [demo] = events(lines, "demo_partner")
        assert "obgw demo" in demo["client_secret_not_shown"]
        assert not any("client_secret" in line for line in lines)


class TestShutdown:
    def test_sigterm_ends_the_log_with_the_shutdown_lines(self, tmp_path: Path) -> None:
        """SIGTERM, as Kubernetes sends it, stops `obgw serve` gracefully, and its output
        ends with the application's shutdown lines: nothing logged is left unwritten."""
        with Serve(tmp_path / "data") as served:
            with httpx.Client(base_url=served.url) as http:
                assert http.get("/healthz").status_code == 200
            served.process.send_signal(signal.SIGTERM)
            assert served.process.wait(timeout=15) == -signal.SIGTERM
        lines = json_lines(served.stdout())
        assert events(lines, "gateway_started")
        names = [line.get("event", "") for line in lines]
        last = names[-4:]
        assert "gateway_stopped" in last, names[-8:]
        assert "Application shutdown complete." in last, names[-8:]
        assert names[-1].startswith("Finished server process"), names[-8:]
        assert names.index("gateway_stopped") > names.index("gateway_started")


class TestWorkers:
    def test_workers_without_redis_are_refused(self, tmp_path: Path) -> None:
        """`--workers 4` without Redis exits 2 naming OBGW_REDIS_URL, before creating anything."""
        data_dir = tmp_path / "data"
        done = subprocess.run(
            [*OBGW, "serve", "--port", str(free_port()), "--workers", "4"],
            cwd=ROOT,
            env=gateway_env(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2
        assert "OBGW_REDIS_URL" in done.stderr
        assert "--workers 1" in done.stderr
        assert not data_dir.exists()

    def test_workers_with_redis_accept_a_proof_once(self, tmp_path: Path) -> None:
        """With Redis, two workers accept a DPoP proof on one connection and refuse its replays."""
        try:
            import redis

            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        except Exception as exc:
            service_missing("Redis at " + REDIS_URL, exc)
        with Serve(tmp_path / "data", "--workers", "2", OBGW_REDIS_URL=REDIS_URL) as served:
            with httpx.Client(base_url=served.url, timeout=10) as http:
                grant = grants.customer_grant(http, grants.sign_up(http), dpop=True)
                path = grants.balances_path(grant)
                headers = grants.auth_headers(http, grant.access_token, grant.dpop_key, path)
            statuses = []
            for _ in range(8):  # a new connection each time: the workers take turns
                with httpx.Client(base_url=served.url, timeout=10) as fresh:
                    statuses.append(fresh.get(path, headers=headers).status_code)
        assert sorted(statuses) == [200] + [401] * 7, statuses
