"""Servers under test: uvicorn subprocesses on loopback ports, optionally pinned to a core."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from gateway.http.server import KEEP_ALIVE_TIMEOUT

ROOT = Path(__file__).resolve().parent.parent
GATEWAY_PROTOCOL = "gateway.http.server:GatewayHttpProtocol"
SERVER_CORE = "0"
CLIENT_CORE = "1"


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(command: list[str], core: str) -> list[str]:
    """`command` under `taskset -c core` when taskset exists and the machine has 2+ cores."""
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", core, *command]
    return command


class Server:
    """One uvicorn process (1 worker, uvloop, no access log) serving `app` with the `http`
    protocol (httptools, or a protocol class as `module:Class`)."""

    def __init__(
        self,
        name: str,
        app: str,
        port: int,
        env: Mapping[str, str],
        log_path: Path,
        *,
        factory: bool = False,
        http: str = "httptools",
        options: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.app = app
        self.factory = factory
        self.http = http
        self.options = options
        self.port = port
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The uvicorn command line, pinned to the server core."""
        uvicorn = [
            sys.executable, "-m", "uvicorn", self.app,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", "1", "--loop", "uvloop", "--http", self.http,
            "--no-access-log", "--log-level", "warning", *self.options,
        ]  # fmt: skip
        if self.factory:
            uvicorn.append("--factory")
        return pinned(uvicorn, SERVER_CORE)

    def start(self, ready_path: str = "/", timeout: float = 30.0) -> None:
        """Start the process and wait until `ready_path` answers (any status)."""
        log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            self.command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self._process.returncode}; see {self.log_path}"
                )
            try:
                httpx.get(self.url + ready_path, timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not start within {timeout} s; see {self.log_path}")

    @property
    def pid(self) -> int | None:
        """The server's process id (taskset execs the server, so it is the same process)."""
        return None if self._process is None else self._process.pid

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process so far (Linux `/proc`), else None."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 10 s)."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def gateway_server(data_dir: Path, log_path: Path) -> Server:
    """The gateway with a fresh SQLite data dir and a loopback issuer on a free port, as it
    runs by default: the request log on (INFO, one JSON line per request to the log file),
    tracing at its default sampling, and the server options of `obgw serve` (its HTTP
    protocol with the default header limits, no WebSocket, its keep-alive timeout)."""
    port = free_port()
    env = {
        "OBGW_DATA_DIR": str(data_dir),
        "OBGW_ISSUER": f"http://127.0.0.1:{port}",
        "OBGW_HTTP_PORT": str(port),
        "OBGW_LOG_LEVEL": "INFO",
    }
    options = ("--ws", "none", "--no-server-header")
    options += ("--timeout-keep-alive", str(KEEP_ALIVE_TIMEOUT))
    return Server(
        "gateway", "gateway.asgi:app", port, env, log_path, http=GATEWAY_PROTOCOL, options=options
    )


BARE_FACTORIES = {
    "default": "bench.bare_app:app_from_env",
    "orjson": "bench.bare_app:orjson_app_from_env",
}


def bare_server(
    body_path: Path, log_path: Path, serialiser: str = "default", payment_path: Path | None = None
) -> Server:
    """A bare FastAPI app (bench/bare_app.py) serving the balances document in `body_path`
    (and, with `payment_path`, that payment document from `POST /v1/payments`).

    `serialiser` is "default" (FastAPI serialises the returned dict) or "orjson" (the route
    returns `Response(orjson.dumps(...))`).
    """
    env = {"BENCH_BARE_BODY": str(body_path)}
    if payment_path is not None:
        env["BENCH_BARE_PAYMENT"] = str(payment_path)
    name = "bare" if serialiser == "default" else f"bare-{serialiser}"
    factory = BARE_FACTORIES[serialiser]
    return Server(name, factory, free_port(), env, log_path, factory=True)
