"""Benchmark `GET /v1/accounts/{id}/balances`: gateway (Bearer, DPoP) against bare endpoints.

    .venv/bin/python bench/run.py [--duration 10] [--connections 32] [--threads 1]

Starts the gateway and the two bench/bare_app.py variants (FastAPI's default JSON, orjson) as
uvicorn subprocesses (pinned to core 0), sets up tokens over HTTP, drives each phase with wrk
(pinned to core 1) after a warm-up, and writes bench/results/latest.json and bench/REPORT.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench import grants, report
from bench.proofs import write_proofs
from bench.servers import CLIENT_CORE, SERVER_CORE, Server, bare_server, gateway_server, pinned
from bench.wrk import Load, Measurement, require_wrk, run_wrk

HERE = Path(__file__).resolve().parent
DPOP_IAT_WINDOW = 60  # the gateway's default OBGW_DPOP_IAT_WINDOW, in seconds
PROOF_HEADROOM = 1.5  # proofs generated per request expected
MIN_PROOFS = 5_000


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per phase")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--rounds", type=int, default=1, help="bare/bare-orjson/Bearer/DPoP rounds")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--report", type=Path, default=HERE / "REPORT.md")
    args = parser.parse_args(argv)
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    # Proofs carry the iat of their generation; all of them must be used within the window.
    if args.warmup + args.duration > DPOP_IAT_WINDOW - 15:
        parser.error(
            f"--warmup + --duration must stay under {DPOP_IAT_WINDOW - 15} s so DPoP proofs "
            f"are used within the gateway's {DPOP_IAT_WINDOW} s iat window"
        )
    return args


class Bench:
    """One benchmark run: the three servers, the partner, and the phases of each round."""

    def __init__(
        self, args: argparse.Namespace, gateway: Server, bare: Server, bare_orjson: Server
    ) -> None:
        self.args = args
        self.gateway = gateway
        self.bare = bare
        self.bare_orjson = bare_orjson
        self.warmup = Load(args.threads, args.connections, args.warmup)
        self.load = Load(args.threads, args.connections, args.duration)
        self.http = httpx.Client(base_url=gateway.url, timeout=10.0)
        self.partner = grants.sign_up(self.http)
        self.proof_stats: dict[str, Any] = {}

    def fresh_grant(self, *, dpop: bool) -> grants.Grant:
        """A new customer token, checked with one balances read; it must outlive the phase."""
        grant = grants.customer_grant(self.http, self.partner, dpop=dpop)
        needed = self.args.warmup + self.args.duration + 10
        if grant.seconds_left < needed:
            raise SystemExit(
                f"access tokens live {grant.seconds_left:.0f} s; a phase needs {needed}"
            )
        grants.fetch_balances(self.http, grant)
        return grant

    def measure(
        self, name: str, server: Server, run: Callable[[str, Load], Measurement]
    ) -> Measurement:
        """Warm up, then measure (`run(part, load)`), noting the server's CPU time used."""
        log(f"{name}: warm-up {self.warmup.duration:g} s")
        run("warmup", self.warmup)
        log(f"{name}: measuring {self.load.duration:g} s")
        cpu_before = server.cpu_seconds()
        measured = run("measure", self.load)
        cpu_after = server.cpu_seconds()
        if cpu_before is not None and cpu_after is not None and measured.requests:
            used = cpu_after - cpu_before
            measured = dataclasses.replace(
                measured,
                server_cpu_us_per_request=round(used / measured.requests * 1e6, 1),
                server_cpu_share=round(used / measured.seconds, 2),
            )
        log(
            f"{name}: {measured.rps:,.0f} req/s, p50 {measured.p50_ms:.2f} ms, "
            f"p99 {measured.p99_ms:.2f} ms, server CPU {measured.server_cpu_us_per_request} "
            f"µs/request, non-2xx {measured.non_2xx}"
        )
        return measured

    def static_phase(self, name: str, server: Server, grant: grants.Grant) -> Measurement:
        url = server.url + grants.balances_path(grant)
        header = f"Bearer {grant.access_token}"
        return self.measure(
            name, server, lambda _, load: run_wrk(url, load, "static.lua", [header])
        )

    def dpop_phase(self, expected_rps: float, workdir: Path) -> Measurement:
        """Generate unique proofs for warm-up and measurement, then run straight away."""
        grant = self.fresh_grant(dpop=True)
        assert grant.dpop_key is not None
        url = self.gateway.url + grants.balances_path(grant)
        counts = {
            "warmup": max(MIN_PROOFS, math.ceil(expected_rps * self.args.warmup * PROOF_HEADROOM)),
            "measure": max(
                MIN_PROOFS, math.ceil(expected_rps * self.args.duration * PROOF_HEADROOM)
            ),
        }
        started = time.monotonic()
        files = {}
        for part, count in counts.items():
            files[part] = workdir / f"proofs-{part}.txt"
            write_proofs(files[part], grant.dpop_key, count, url, grant.access_token)
        generation = time.monotonic() - started
        log(f"dpop: {sum(counts.values()):,} proofs generated in {generation:.2f} s")
        self.proof_stats = {"count": sum(counts.values()), "seconds": round(generation, 2)}
        authorization = f"DPoP {grant.access_token}"
        threads = str(self.args.threads)

        def run(part: str, load: Load) -> Measurement:
            return run_wrk(url, load, "dpop.lua", [str(files[part]), threads, authorization])

        measured = self.measure("dpop", self.gateway, run)
        if time.monotonic() - started > DPOP_IAT_WINDOW:
            log("warning: the DPoP phase outlived the iat window; expect 401s")
        return measured

    def round(self, number: int, workdir: Path) -> dict[str, Measurement]:
        log(f"round {number}/{self.args.rounds}")
        bearer = self.fresh_grant(dpop=False)
        results = {"bare": self.static_phase("bare", self.bare, bearer)}
        results["bare_orjson"] = self.static_phase("bare-orjson", self.bare_orjson, bearer)
        results["bearer"] = self.static_phase("bearer", self.gateway, bearer)
        results["dpop"] = self.dpop_phase(results["bearer"].rps, workdir)
        return results


def start_servers(workdir: Path) -> tuple[Server, Server, Server, dict[str, Any]]:
    """The gateway, then both bare apps serving the gateway's own balances document.

    Checks that the two bare variants answer byte-identical bodies, the same document as the
    gateway's, and as many bytes as the gateway (its `as_of` timestamps differ, not their
    length).
    """
    with contextlib.ExitStack() as started:
        gateway = gateway_server(workdir / "data", workdir / "gateway.log")
        gateway.start("/readyz")
        started.callback(gateway.stop)
        with httpx.Client(base_url=gateway.url, timeout=10.0) as http:
            partner = grants.sign_up(http)
            grant = grants.customer_grant(http, partner, dpop=False)
            response = http.get(
                grants.balances_path(grant),
                headers={"Authorization": f"Bearer {grant.access_token}"},
            )
            response.raise_for_status()
        body_path = workdir / "balances.json"
        body_path.write_bytes(response.content)
        bodies: dict[str, bytes] = {}
        servers: dict[str, Server] = {}
        for serialiser, key in (("default", "bare"), ("orjson", "bare_orjson")):
            server = bare_server(body_path, workdir / f"{key}.log", serialiser)
            server.start()
            started.callback(server.stop)
            check = httpx.get(server.url + grants.balances_path(grant), timeout=10.0)
            check.raise_for_status()
            if check.headers.get("content-type") != "application/json":
                raise RuntimeError(f"{server.name} answers {check.headers.get('content-type')}")
            if check.json() != response.json():
                raise RuntimeError(f"{server.name} does not return the gateway's document")
            servers[key], bodies[key] = server, check.content
        if bodies["bare"] != bodies["bare_orjson"]:
            raise RuntimeError(
                "the two bare endpoints answer different bytes:\n"
                f"  default: {bodies['bare']!r}\n  orjson:  {bodies['bare_orjson']!r}"
            )
        if len(bodies["bare"]) != len(response.content):
            raise RuntimeError(
                f"the bare body is {len(bodies['bare'])} bytes, "
                f"the gateway's {len(response.content)}"
            )
        started.pop_all()
    sizes: dict[str, Any] = {
        "gateway": len(response.content),
        "bare": len(bodies["bare"]),
        "bare_orjson": len(bodies["bare_orjson"]),
        "bare_bodies_identical": True,
        "bare_identical_to_gateway": bodies["bare"] == response.content,
    }
    return gateway, servers["bare"], servers["bare_orjson"], sizes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    require_wrk()
    command = shlex.join([".venv/bin/python", "bench/run.py", *(argv or sys.argv[1:])])
    with tempfile.TemporaryDirectory(prefix="obgw-bench-") as tmp:
        workdir = Path(tmp)
        log(f"starting servers in {workdir}")
        gateway, bare, bare_orjson, sizes = start_servers(workdir)
        with gateway, bare, bare_orjson:
            bench = Bench(args, gateway, bare, bare_orjson)
            rounds = [bench.round(n, workdir) for n in range(1, args.rounds + 1)]
            bench.http.close()
    summaries = report.summarise(rounds)
    issues = report.problems(rounds)
    host = report.machine()
    config = {
        "duration": args.duration,
        "warmup": args.warmup,
        "connections": args.connections,
        "threads": args.threads,
        "rounds": args.rounds,
        "dpop_proofs": bench.proof_stats.get("count"),
        "dpop_generation_s": bench.proof_stats.get("seconds"),
        "server_pinning": " ".join(pinned(["uvicorn"], SERVER_CORE)),
        "client_pinning": " ".join(pinned(["wrk"], CLIENT_CORE)),
        "body_bytes": sizes,
    }
    document = {
        "command": command,
        "config": config,
        "machine": host,
        "summary": [s.as_dict() for s in summaries],
        "rounds": [{p: m.as_dict() for p, m in r.items()} for r in rounds],
        "problems": issues,
    }
    report.write_json(args.results, document)
    report.write_markdown(
        args.report,
        command=command,
        config=config,
        host=host,
        summaries=summaries,
        rounds=rounds,
        issues=issues,
    )
    print(report.table(summaries))
    for issue in issues:
        print(f"warning: {issue}")
    print(f"\nwrote {args.results} and {args.report}")
    print("throughput ÷ bare:", json.dumps({s.phase: s.rps_ratio for s in summaries}))
    print(
        "throughput ÷ bare-orjson:",
        json.dumps({s.phase: s.rps_ratio_orjson for s in summaries}),
    )
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
