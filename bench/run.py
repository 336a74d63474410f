"""Benchmark the gateway's balances read (Bearer, DPoP) and payments against bare endpoints.

    .venv/bin/python bench/run.py [--duration 10] [--connections 32] [--threads 1]
                                  [--payment-duration 5] [--no-payments]

Starts the gateway and the two bench/bare_app.py variants (FastAPI's default JSON, orjson) as
uvicorn subprocesses (pinned to core 0), sets up tokens (and one payment consent per payment)
over HTTP, drives each phase with wrk (pinned to core 1) after a warm-up, and writes
bench/results/latest.json and bench/REPORT.md.
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

from bench import grants, payments, report
from bench.proofs import write_proofs
from bench.servers import CLIENT_CORE, SERVER_CORE, Server, bare_server, gateway_server, pinned
from bench.wrk import Load, Measurement, require_wrk, run_wrk

HERE = Path(__file__).resolve().parent
DPOP_IAT_WINDOW = 60  # the gateway's default OBGW_DPOP_IAT_WINDOW, in seconds
PROOF_HEADROOM = 1.5  # proofs generated per request expected
MIN_PROOFS = 5_000
PAYMENT_HEADROOM = 2.0  # payments prepared per payment the probe's rate predicts
PROBE_SECONDS = 1.0
PROBE_PER_CONNECTION = 4  # payments prepared for the probe, per connection
SETTLE_SECONDS = 60.0  # the longest wait for the gateway to finish what wrk left in flight
MAX_PAYMENT_PARTNERS = 8  # sandbox sign-ups: 10 an hour per address, and the run uses 2 more


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per phase")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of all phases")
    parser.add_argument(
        "--no-payments", dest="payments", action="store_false", help="skip the payment phases"
    )
    parser.add_argument(
        "--payment-duration", type=float, default=5.0, help="measured seconds of the payments"
    )
    parser.add_argument(
        "--payment-warmup", type=float, default=2.0, help="warm-up seconds of the payments"
    )
    parser.add_argument(
        "--payment-partners", type=int, default=4, help="sandbox partners the payments spread over"
    )
    parser.add_argument(
        "--payment-workers", type=int, default=8, help="threads preparing payment consents"
    )
    parser.add_argument("--results", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--report", type=Path, default=HERE / "REPORT.md")
    args = parser.parse_args(argv)
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    if not 1 <= args.payment_partners <= MAX_PAYMENT_PARTNERS:
        parser.error(f"--payment-partners must be between 1 and {MAX_PAYMENT_PARTNERS}")
    # Proofs carry the iat of their generation; all of them must be used within the window.
    if args.warmup + args.duration > DPOP_IAT_WINDOW - 15:
        parser.error(
            f"--warmup + --duration must stay under {DPOP_IAT_WINDOW - 15} s so DPoP proofs "
            f"are used within the gateway's {DPOP_IAT_WINDOW} s iat window"
        )
    return args


class Bench:
    """One benchmark run: the three servers, the partners, and the phases of each round."""

    def __init__(
        self,
        args: argparse.Namespace,
        workdir: Path,
        gateway: Server,
        bare: Server,
        bare_orjson: Server,
    ) -> None:
        self.args = args
        self.workdir = workdir
        self.gateway = gateway
        self.bare = bare
        self.bare_orjson = bare_orjson
        self.warmup = Load(args.threads, args.connections, args.warmup)
        self.load = Load(args.threads, args.connections, args.duration)
        self.http = httpx.Client(base_url=gateway.url, timeout=10.0)
        self.partner = grants.sign_up(self.http)
        self.payers = (
            [grants.sign_up(self.http) for _ in range(args.payment_partners)]
            if args.payments
            else []
        )
        self.proof_stats: dict[str, Any] = {}
        self.payment_stats: list[dict[str, Any]] = []

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
        self,
        name: str,
        server: Server,
        run: Callable[[str, Load], Measurement],
        loads: tuple[Load, Load] | None = None,
        settle: Callable[[], int] | None = None,
    ) -> Measurement:
        """Warm up, then measure (`run(part, load)`), noting the server's CPU time used;
        `loads` is (warm-up, measured), by default those of `--warmup` and `--duration`.

        `settle`, for requests that take long, waits until the server has finished the
        requests wrk left in flight and returns how many it completed since it was last
        called: it runs after the warm-up (so its leftovers do not run into the measurement)
        and after the measurement, whose CPU time is then counted until settled and divided
        by the requests the server completed, not by the answers wrk received.
        """
        warmup, load = loads or (self.warmup, self.load)
        log(f"{name}: warm-up {warmup.duration:g} s")
        run("warmup", warmup)
        if settle is not None:
            settle()
        log(f"{name}: measuring {load.duration:g} s")
        cpu_before, started = server.cpu_seconds(), time.monotonic()
        measured = run("measure", load)
        completed = measured.requests if settle is None else settle()
        cpu_after, elapsed = server.cpu_seconds(), time.monotonic() - started
        if settle is None:
            elapsed = measured.seconds
        if cpu_before is not None and cpu_after is not None and completed:
            used = cpu_after - cpu_before
            measured = dataclasses.replace(
                measured,
                server_cpu_us_per_request=round(used / completed * 1e6, 1),
                server_cpu_share=round(used / elapsed, 2),
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

    def payment_phases(self, number: int) -> dict[str, Measurement]:
        """bare `POST /v1/payments`, then the gateway's payments, each on its own consent.

        The payers' sandbox worlds are reset first (fresh balances, no transfers). A probe
        (one second of payments on a few prepared consents) estimates the rate, which sizes
        the consents prepared for warm-up and measurement; the gateway's ledger is then
        reconciled with every 201 answer wrk received.
        """
        for partner in self.payers:
            grants.reset_world(self.http, partner)
        database = self.workdir / "data" / "obgw.db"
        before = payments.Ledger.read(database, self.payers, settle=0)
        made = len(before.payment_ids)

        def settle() -> int:
            """Payments made since the last call, once the gateway has made them all."""
            nonlocal made
            now = len(payments.Ledger.read(database, self.payers, SETTLE_SECONDS).payment_ids)
            made, since = now, now - made
            return since

        runs: list[tuple[Measurement, Path]] = []
        threads = str(self.args.threads)

        def pay(server: Server, load: Load, lines: Path, mode: str, tag: str) -> Measurement:
            answers = self.workdir / f"answers-{number}-{server.name}-{tag}.txt"
            measured = run_wrk(
                server.url + "/v1/payments",
                load,
                "payments.lua",
                [str(lines), threads, mode, str(answers)],
            )
            if server is self.gateway:
                runs.append((measured, answers))
            return measured

        connections = self.args.connections
        probe_lines = self.workdir / f"payments-{number}-probe.txt"
        started = time.monotonic()
        probe_count = PROBE_PER_CONNECTION * connections
        payments.write_requests(
            probe_lines,
            payments.prepare(self.gateway.url, self.payers, probe_count, self.args.payment_workers),
        )
        probe = pay(
            self.gateway, Load(self.args.threads, connections, PROBE_SECONDS), probe_lines, "once",
            "probe",
        )  # fmt: skip
        settle()
        log(
            f"payments: probe {probe.rps:,.0f} req/s on {probe_count} consents prepared in "
            f"{time.monotonic() - started:.1f} s"
            + (f" ({probe.prepared_reused} found none left)" if probe.prepared_reused else "")
        )
        loads = (
            Load(self.args.threads, connections, self.args.payment_warmup),
            Load(self.args.threads, connections, self.args.payment_duration),
        )
        results = {
            "bare_payments": self.measure(
                "bare-payments",
                self.bare,
                lambda part, load: pay(self.bare, load, probe_lines, "cycle", part),
                loads,
            )
        }

        counts = {
            part: math.ceil(probe.rps * load.duration * PAYMENT_HEADROOM) + connections
            for part, load in zip(("warmup", "measure"), loads, strict=True)
        }
        started = time.monotonic()
        prepared = payments.prepare(
            self.gateway.url,
            self.payers,
            sum(counts.values()),
            self.args.payment_workers,
            probe_count,
        )
        preparation = time.monotonic() - started
        log(f"payments: {len(prepared):,} consents prepared in {preparation:.1f} s")
        payments.check_capacity(self.http, database, self.payers, prepared)
        needed = sum(load.duration for load in loads) + 10
        seconds_left = min(g.expires_at for g in prepared) - time.time()
        if seconds_left < needed:
            raise SystemExit(
                f"the first payment token expires in {seconds_left:.0f} s, the phase needs "
                f"{needed:.0f}: prepare fewer (shorter --payment-duration) or faster"
            )
        files = {
            "warmup": self.workdir / f"payments-{number}-warmup.txt",
            "measure": self.workdir / f"payments-{number}-measure.txt",
        }
        payments.write_requests(files["warmup"], prepared[: counts["warmup"]])
        payments.write_requests(files["measure"], prepared[counts["warmup"] :])
        results["payments"] = self.measure(
            "payments",
            self.gateway,
            lambda part, load: pay(self.gateway, load, files[part], "once", part),
            loads,
            settle,
        )

        after = payments.Ledger.read(database, self.payers)
        answered = [line for _, path in runs if path.exists() for line in path.read_text().split()]
        books = payments.reconcile(
            before,
            after,
            answered,
            replayed=sum(m.replayed for m, _ in runs),
            in_flight=sum(m.sent - m.requests for m, _ in runs),
        )
        log(
            f"payments: the gateway holds {books.payments} new payments; wrk received "
            f"{books.answered_201} 201s, {books.answered_after_wrk} answered after it stopped "
            f"({books.in_flight_at_stop} in flight), {books.replayed} replays"
        )
        self.payment_stats.append(
            {
                "round": number,
                "partners": len(self.payers),
                "probe_rps": probe.rps,
                "probe_consents": probe_count,
                "prepared": {**counts, "total": len(prepared)},
                "preparation_s": round(preparation, 1),
                "consents_per_s": round(len(prepared) / preparation, 1),
                "token_seconds_left": round(seconds_left),
                "reconciliation": books.as_dict(),
            }
        )
        return results

    def round(self, number: int) -> dict[str, Measurement]:
        log(f"round {number}/{self.args.rounds}")
        bearer = self.fresh_grant(dpop=False)
        results = {"bare": self.static_phase("bare", self.bare, bearer)}
        results["bare_orjson"] = self.static_phase("bare-orjson", self.bare_orjson, bearer)
        results["bearer"] = self.static_phase("bearer", self.gateway, bearer)
        results["dpop"] = self.dpop_phase(results["bearer"].rps, self.workdir)
        if self.args.payments:
            results.update(self.payment_phases(number))
        return results


def start_servers(
    workdir: Path, *, with_payments: bool
) -> tuple[Server, Server, Server, dict[str, dict[str, Any]]]:
    """The gateway, then both bare apps serving the gateway's own documents: its balances
    and (`with_payments`) its answer to one payment.

    Checks that the two bare variants answer byte-identical bodies with the gateway's status,
    the same documents as the gateway's, and as many bytes as the gateway (its timestamps and
    ids differ, not their length). Returns the body sizes per document.
    """
    with contextlib.ExitStack() as started:
        gateway = gateway_server(workdir / "data", workdir / "gateway.log")
        gateway.start("/readyz")
        started.callback(gateway.stop)
        requests: dict[str, tuple[str, str, Any, httpx.Response]] = {}
        with httpx.Client(base_url=gateway.url, timeout=10.0) as http:
            partner = grants.sign_up(http)
            grant = grants.customer_grant(http, partner, dpop=False)
            path = grants.balances_path(grant)
            response = http.get(path, headers={"Authorization": f"Bearer {grant.access_token}"})
            response.raise_for_status()
            requests["balances"] = ("GET", path, None, response)
            if with_payments:
                payment = payments.prepare(gateway.url, [partner], 1, 1)[0]
                paid = payments.pay(http, payment)
                if paid.status_code != 201:
                    raise RuntimeError(f"a payment answered {paid.status_code}: {paid.text}")
                requests["payment"] = ("POST", "/v1/payments", payment.body, paid)
        files = {}
        for name, (*_, answer) in requests.items():
            files[name] = workdir / f"{name}.json"
            files[name].write_bytes(answer.content)
        servers: dict[str, Server] = {}
        for serialiser, key in (("default", "bare"), ("orjson", "bare_orjson")):
            server = bare_server(
                files["balances"], workdir / f"{key}.log", serialiser, files.get("payment")
            )
            server.start()
            started.callback(server.stop)
            servers[key] = server
        sizes = {name: _check_bare(servers, *request) for name, request in requests.items()}
        started.pop_all()
    return gateway, servers["bare"], servers["bare_orjson"], sizes


def _check_bare(
    servers: dict[str, Server], method: str, path: str, body: Any, gateway: httpx.Response
) -> dict[str, Any]:
    """RuntimeError unless both bare apps answer `method path` as the gateway did (status,
    document, length) with byte-identical bodies; the sizes of the bodies."""
    bodies: dict[str, bytes] = {}
    for key, server in servers.items():
        check = httpx.request(method, server.url + path, json=body, timeout=10.0)
        if check.status_code != gateway.status_code:
            raise RuntimeError(
                f"{server.name} answers {method} {path} with {check.status_code}, "
                f"the gateway with {gateway.status_code}"
            )
        if check.headers.get("content-type") != "application/json":
            raise RuntimeError(f"{server.name} answers {check.headers.get('content-type')}")
        if check.json() != gateway.json():
            raise RuntimeError(f"{server.name} does not return the gateway's document")
        bodies[key] = check.content
    if bodies["bare"] != bodies["bare_orjson"]:
        raise RuntimeError(
            f"the two bare endpoints answer {method} {path} with different bytes:\n"
            f"  default: {bodies['bare']!r}\n  orjson:  {bodies['bare_orjson']!r}"
        )
    if len(bodies["bare"]) != len(gateway.content):
        raise RuntimeError(
            f"the bare body of {method} {path} is {len(bodies['bare'])} bytes, "
            f"the gateway's {len(gateway.content)}"
        )
    return {
        "gateway": len(gateway.content),
        "bare": len(bodies["bare"]),
        "bare_orjson": len(bodies["bare_orjson"]),
        "bare_bodies_identical": True,
        "bare_identical_to_gateway": bodies["bare"] == gateway.content,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    require_wrk()
    command = shlex.join([".venv/bin/python", "bench/run.py", *(argv or sys.argv[1:])])
    with tempfile.TemporaryDirectory(prefix="obgw-bench-") as tmp:
        workdir = Path(tmp)
        log(f"starting servers in {workdir}")
        gateway, bare, bare_orjson, sizes = start_servers(workdir, with_payments=args.payments)
        with gateway, bare, bare_orjson:
            bench = Bench(args, workdir, gateway, bare, bare_orjson)
            rounds = [bench.round(n) for n in range(1, args.rounds + 1)]
            bench.http.close()
    summaries = report.summarise(rounds)
    issues = report.problems(rounds, bench.payment_stats)
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
        "body_bytes": sizes["balances"],
        "payments": (
            {
                "warmup": args.payment_warmup,
                "duration": args.payment_duration,
                "partners": args.payment_partners,
                "amount": payments.AMOUNT,
                "workers": args.payment_workers,
                "probe_s": PROBE_SECONDS,
                "headroom": PAYMENT_HEADROOM,
                "body_bytes": sizes["payment"],
                "rounds": bench.payment_stats,
            }
            if args.payments
            else None
        ),
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
    if args.payments:
        print(report.payments_table(summaries))
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
