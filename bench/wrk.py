"""Running wrk (a second process, on its own core) and reading its JSON summary."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.servers import CLIENT_CORE, pinned

LUA = Path(__file__).resolve().parent / "lua"
MARKER = "BENCH_JSON "
INSTALL_HINT = "wrk is not installed: run `apt-get install -y wrk` (Debian/Ubuntu) and retry"


def require_wrk() -> str:
    """The wrk executable, or SystemExit with the install command."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(INSTALL_HINT)
    return path


@dataclass(frozen=True)
class Load:
    """How hard to push: wrk's threads, open connections and seconds."""

    threads: int
    connections: int
    duration: float


@dataclass(frozen=True)
class Measurement:
    """One wrk run, as reported by bench/lua/report.lua (latencies in milliseconds)."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    mean_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int
    prepared_loaded: int  # single-use requests read (DPoP proofs, payments)
    prepared_reused: int  # requests that found no unused one
    sent: int = 0  # requests payments.lua generated (answered or still in flight at the end)
    created: int = 0  # 201 answers
    replayed: int = 0  # 201 answers marked Idempotent-Replayed
    server_cpu_us_per_request: float | None = None
    server_cpu_share: float | None = None

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> Measurement:
        seconds = report["duration_us"] / 1e6
        latency = report["latency_us"]
        errors = report["errors"]
        return cls(
            requests=report["requests"],
            seconds=round(seconds, 3),
            rps=round(report["requests"] / seconds, 1),
            p50_ms=latency["p50"] / 1000,
            p90_ms=latency["p90"] / 1000,
            p99_ms=latency["p99"] / 1000,
            p999_ms=latency["p999"] / 1000,
            mean_ms=round(latency["mean"] / 1000, 3),
            max_ms=latency["max"] / 1000,
            non_2xx=errors["status"],
            socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
            prepared_loaded=report["loaded"],
            prepared_reused=report["exhausted"],
            sent=report["sent"],
            created=report["created"],
            replayed=report["replayed"],
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_wrk(url: str, load: Load, script: str, args: list[str]) -> Measurement:
    """Run `wrk --latency -s bench/lua/<script>` against `url` and parse its summary line."""
    command = pinned(
        [
            require_wrk(),
            "--latency",
            "-t", str(load.threads),
            "-c", str(load.connections),
            "-d", f"{load.duration:g}s",
            "--timeout", "10s",
            "-s", str(LUA / script),
            url,
            "--",
            *args,
        ],
        CLIENT_CORE,
    )  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            return Measurement.from_report(json.loads(line[len(MARKER) :]))
    raise RuntimeError(f"wrk printed no {MARKER.strip()} line:\n{done.stdout}\n{done.stderr}")
