"""Shaping results: ratios against both bare endpoints, the console table, JSON and REPORT.md."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.wrk import Measurement

PHASES = ("bare", "bare_orjson", "bearer", "dpop", "bare_payments", "payments")
BASELINES = ("bare", "bare_orjson")
LABELS = {
    "bare": "bare FastAPI endpoint (default JSON)",
    "bare_orjson": "bare FastAPI endpoint, orjson",
    "bearer": "gateway, Bearer token",
    "dpop": "gateway, DPoP-bound token",
    "bare_payments": "bare FastAPI POST /v1/payments (default JSON)",
    "payments": "gateway, POST /v1/payments",
}
# Throughput, as a fraction of the bare balances endpoint with FastAPI's default JSON
# ("bare") — for the payments too; their ratio to the bare POST route is shown beside it.
TARGETS = {"bearer": 0.6, "dpop": 0.35, "payments": 0.25}
PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "pydantic-core",
    "orjson",
    "joserfc",
)
BASELINE_DIFFERENCE = (
    "The two baselines differ only in how the route turns the document into bytes: "
    '"bare" returns the dict and lets FastAPI validate it against its `dict[str, Any]` '
    "response field and serialise it (with the installed FastAPI: pydantic-core's "
    '`serialize_json`, not `jsonable_encoder` + `json.dumps`), while "bare-orjson" returns '
    '`Response(orjson.dumps(...), media_type="application/json")`, which FastAPI passes '
    "through untouched; both answer the same bytes with the same headers."
)


@dataclass(frozen=True)
class PhaseSummary:
    """One phase over all rounds: the median of each number, and the ratios to both baselines.

    `*_ratio` is against "bare" (FastAPI's default JSON, what the targets refer to),
    `*_ratio_orjson` against "bare_orjson".
    """

    phase: str
    rps: float
    p50_ms: float
    p99_ms: float
    rps_ratio: float
    p50_ratio: float
    p99_ratio: float
    rps_ratio_orjson: float
    p50_ratio_orjson: float
    p99_ratio_orjson: float
    cpu_us_per_request: float | None
    rps_ratio_bare_payments: float | None = None
    p50_ratio_bare_payments: float | None = None
    p99_ratio_bare_payments: float | None = None

    @property
    def target(self) -> float | None:
        return TARGETS.get(self.phase)

    @property
    def meets_target(self) -> bool | None:
        return None if self.target is None else self.rps_ratio >= self.target

    def as_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "rps": self.rps,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "rps_ratio_to_bare": self.rps_ratio,
            "p50_ratio_to_bare": self.p50_ratio,
            "p99_ratio_to_bare": self.p99_ratio,
            "rps_ratio_to_bare_orjson": self.rps_ratio_orjson,
            "p50_ratio_to_bare_orjson": self.p50_ratio_orjson,
            "p99_ratio_to_bare_orjson": self.p99_ratio_orjson,
            "rps_ratio_to_bare_payments": self.rps_ratio_bare_payments,
            "p50_ratio_to_bare_payments": self.p50_ratio_bare_payments,
            "p99_ratio_to_bare_payments": self.p99_ratio_bare_payments,
            "server_cpu_us_per_request": self.cpu_us_per_request,
            "target_rps_ratio": self.target,
            "meets_target": self.meets_target,
        }


def summarise(rounds: list[dict[str, Measurement]]) -> list[PhaseSummary]:
    """Median rps/p50/p99 per phase across rounds, and each phase relative to both baselines
    (the payments also to the bare POST route)."""

    def median(phase: str, field: str) -> float:
        return float(statistics.median(getattr(r[phase], field) for r in rounds))

    def cpu(phase: str) -> float | None:
        values = [r[phase].server_cpu_us_per_request for r in rounds]
        known = [v for v in values if v is not None]
        return round(statistics.median(known), 1) if known else None

    fields = ("rps", "p50_ms", "p99_ms")
    base = {b: {field: median(b, field) for field in fields} for b in BASELINES}
    summaries = []
    for phase in phases(rounds):
        rps, p50, p99 = (median(phase, f) for f in fields)
        bare, orj = base["bare"], base["bare_orjson"]
        same_route: dict[str, float | None] = {}
        if phase == "payments":
            pay = {field: median("bare_payments", field) for field in fields}
            same_route = {
                "rps_ratio_bare_payments": round(rps / pay["rps"], 3),
                "p50_ratio_bare_payments": round(p50 / pay["p50_ms"], 2),
                "p99_ratio_bare_payments": round(p99 / pay["p99_ms"], 2),
            }
        summaries.append(
            PhaseSummary(
                phase=phase,
                rps=round(rps, 1),
                p50_ms=round(p50, 3),
                p99_ms=round(p99, 3),
                rps_ratio=round(rps / bare["rps"], 3),
                p50_ratio=round(p50 / bare["p50_ms"], 2),
                p99_ratio=round(p99 / bare["p99_ms"], 2),
                rps_ratio_orjson=round(rps / orj["rps"], 3),
                p50_ratio_orjson=round(p50 / orj["p50_ms"], 2),
                p99_ratio_orjson=round(p99 / orj["p99_ms"], 2),
                cpu_us_per_request=cpu(phase),
                **same_route,
            )
        )
    return summaries


def phases(rounds: list[dict[str, Measurement]]) -> list[str]:
    """The phases the run measured, in the order of `PHASES`."""
    return [phase for phase in PHASES if phase in rounds[0]]


def problems(
    rounds: list[dict[str, Measurement]], payment_rounds: list[dict[str, Any]] | None = None
) -> list[str]:
    """Reasons the run is not trustworthy: failed responses, socket errors, a reused proof
    or prepared payment, and payments the gateway's books do not match with wrk's answers."""
    found = []
    for number, measured in enumerate(rounds, 1):
        for phase, m in measured.items():
            if m.non_2xx:
                found.append(f"round {number} {phase}: {m.non_2xx} non-2xx responses")
            if m.socket_errors:
                found.append(f"round {number} {phase}: {m.socket_errors} socket errors")
            if m.prepared_reused:
                what = "prepared payment" if phase == "payments" else "proof"
                found.append(
                    f"round {number} {phase}: {m.prepared_reused} requests found no unused {what}"
                )
            if m.replayed:
                found.append(f"round {number} {phase}: {m.replayed} idempotent replays")
    for stats in payment_rounds or []:
        for problem in stats["reconciliation"]["problems"]:
            found.append(f"round {stats['round']} payments: {problem}")
    return found


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        wrk_version = (wrk.stdout or wrk.stderr).splitlines()[0].split(" Copyright")[0]
    except (OSError, IndexError):
        wrk_version = "unknown"
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": wrk_version,
        "packages": {name: _version(name) for name in PACKAGES},
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def table(summaries: list[PhaseSummary]) -> str:
    """A fixed-width table for the console (and a Markdown one for the report)."""
    lines = [
        "| phase | req/s | p50 ms | p99 ms | req/s ÷ bare | req/s ÷ bare-orjson "
        "| p50 × bare | p50 × bare-orjson | p99 × bare | p99 × bare-orjson "
        "| server CPU µs/req | target (vs bare) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in summaries:
        if s.target is None:
            verdict = "—"
        else:
            verdict = f"≥ {s.target:g}× {'✅ met' if s.meets_target else '❌ missed'}"
        lines.append(
            f"| {LABELS[s.phase]} | {s.rps:,.0f} | {s.p50_ms:.2f} | {s.p99_ms:.2f} "
            f"| {_ratio(s.rps_ratio)} | {_ratio(s.rps_ratio_orjson)} "
            f"| {s.p50_ratio:.2f} | {s.p50_ratio_orjson:.2f} "
            f"| {s.p99_ratio:.2f} | {s.p99_ratio_orjson:.2f} "
            f"| {_number(s.cpu_us_per_request)} | {verdict} |"
        )
    return "\n".join(lines)


def payments_table(summaries: list[PhaseSummary]) -> str:
    """The payments against both references: the bare balances read (the target's) and the
    bare `POST /v1/payments` (same request and response shape)."""
    by_phase = {s.phase: s for s in summaries}
    pay, bare_pay = by_phase["payments"], by_phase["bare_payments"]
    verdict = f"≥ {pay.target:g}× {'✅ met' if pay.meets_target else '❌ missed'}"
    return "\n".join(
        [
            "| | req/s | p50 ms | p99 ms | server CPU µs/req "
            "| req/s ÷ bare (balances) | req/s ÷ bare POST /v1/payments | target (vs bare) |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
            f"| {LABELS['bare_payments']} | {bare_pay.rps:,.0f} | {bare_pay.p50_ms:.2f} "
            f"| {bare_pay.p99_ms:.2f} | {_number(bare_pay.cpu_us_per_request)} "
            f"| {bare_pay.rps_ratio:.2f} | 1.00 | — |",
            f"| {LABELS['payments']} | {pay.rps:,.0f} | {pay.p50_ms:.2f} | {pay.p99_ms:.2f} "
            f"| {_number(pay.cpu_us_per_request)} | {pay.rps_ratio:.3f} "
            f"| {pay.rps_ratio_bare_payments:.3f} | {verdict} |",
        ]
    )


def _payment_rounds(config: dict[str, Any]) -> str:
    """The payments' set-up and the reconciliation of each round, as a Markdown table."""
    lines = [
        "| round | probe req/s | consents prepared (warm-up + measured) | preparation s "
        "| consents/s | payments in the gateway | 201s wrk received | answered after wrk "
        "stopped (in flight) | replays | events | stored answers | debited CNY |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for stats in config["payments"]["rounds"]:
        books = stats["reconciliation"]
        prepared = stats["prepared"]
        lines.append(
            f"| {stats['round']} | {stats['probe_rps']:,.0f} "
            f"| {prepared['total']:,} ({prepared['warmup']:,} + {prepared['measure']:,}) "
            f"| {stats['preparation_s']} | {stats['consents_per_s']} | {books['payments']:,} "
            f"| {books['answered_201']:,} | {books['answered_after_wrk']} "
            f"({books['in_flight_at_stop']}) | {books['replayed'] + books['duplicate_ids']} "
            f"| {books['events']:,} | {books['stored_answers']:,} | {books['debited']} |"
        )
    return "\n".join(lines)


def _payments_section(config: dict[str, Any], summaries: list[PhaseSummary]) -> str:
    payment = config.get("payments")
    if payment is None:
        return ""
    sizes = payment["body_bytes"]
    return f"""
## Payments

{payments_table(summaries)}

The target (≥ {TARGETS["payments"]}×) is against **bare**, the same balances endpoint as the
other targets; the ratio to the bare `POST /v1/payments` route (same request lines, a JSON
body parsed into a dict, the gateway's payment document answered with `201`, no pipeline, no
database) is shown beside it without a target.

Each request pays {payment["amount"]} CNY once under its own payment consent and token, with
its own `Idempotency-Key`: the idempotency claim, the consent lock, the risk reservation, the
sandbox bank's transfer, the outbox event and the stored answer. The consents are spread
round-robin over {payment["partners"]} sandbox partners whose worlds are reset before each
round (fresh balances, no transfers). With SQLite every write transaction of the gateway
queues on the one database writer, so more partners add no parallelism; they keep each
partner's transfer list short (the sandbox bank reads and re-applies it on every payment).
With PostgreSQL one partner's payments would also queue on its sandbox world's row lock
during the bank's transfer.

Warm-up {payment["warmup"]:g} s, measured {payment["duration"]:g} s, {config["connections"]}
connections. Before each round a {payment["probe_s"]:g} s probe on a few prepared consents
estimates the rate; {payment["headroom"]:g}× that rate times the phase's length, plus one per
connection, are prepared with {payment["workers"]} threads over HTTP. Response body:
{sizes["gateway"]} bytes from the gateway, {sizes["bare"]} from the bare route.

A payment takes long enough that the requests wrk leaves in flight matter: the run waits for
the gateway to finish them after the probe and the warm-up, and the gateway's server CPU per
request counts from the start of the measured run until it has finished them, divided by the
payments that run made (not by the answers wrk received). Latency under
{config["connections"]} connections is mostly queueing: at these rates a request waits for the
ones ahead of it.

After each round the gateway's database is read: the payments the round made, their
`payment.status_changed` events and their stored idempotent answers must each equal the
201 answers wrk received plus the requests it left in flight when it stopped (the gateway
finishes those), no answered payment id may repeat, and no answer may be marked
`Idempotent-Replayed`.

{_payment_rounds(config)}
"""


def _ratio(value: float) -> str:
    """Two decimals, or three below 0.1 (a small ratio should not read as zero)."""
    return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _baseline_gap(summaries: list[PhaseSummary]) -> str:
    """One sentence: how far apart the two baselines were in this run."""
    by_phase = {s.phase: s for s in summaries}
    bare, orj = by_phase["bare"], by_phase["bare_orjson"]
    text = f"In this run bare-orjson served {orj.rps_ratio:.2f}× the requests of bare"
    if bare.cpu_us_per_request is not None and orj.cpu_us_per_request is not None:
        saved = bare.cpu_us_per_request - orj.cpu_us_per_request
        more_or_less = "less" if saved >= 0 else "more"
        text += f" and used {abs(saved):.0f} µs {more_or_less} server CPU per request"
    return text + "."


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def write_markdown(
    path: Path,
    *,
    command: str,
    config: dict[str, Any],
    host: dict[str, Any],
    summaries: list[PhaseSummary],
    rounds: list[dict[str, Measurement]],
    issues: list[str],
) -> None:
    """bench/REPORT.md: the numbers of this run, where and how they were measured."""
    per_round = [
        "| round | phase | requests | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms "
        "| server CPU µs/req | server CPU share |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for number, measured in enumerate(rounds, 1):
        for phase in phases(rounds):
            m = measured[phase]
            per_round.append(
                f"| {number} | {phase} | {m.requests:,} | {m.rps:,.0f} | {m.p50_ms:.2f} "
                f"| {m.p90_ms:.2f} | {m.p99_ms:.2f} | {m.p999_ms:.2f} | {m.max_ms:.2f} "
                f"| {_number(m.server_cpu_us_per_request)} | {m.server_cpu_share} |"
            )
    packages = ", ".join(f"{k} {v}" for k, v in host["packages"].items())
    validity = (
        "Every response was 2xx, no socket errors, no DPoP proof or prepared payment was sent "
        "twice"
        + (", and the gateway's books match wrk's answers." if config.get("payments") else ".")
        if not issues
        else "**The run is not clean:**\n\n" + "\n".join(f"- {i}" for i in issues)
    )
    measured = "`GET /v1/accounts/{id}/balances`" + (
        " and `POST /v1/payments`" if config.get("payments") else ""
    )
    text = f"""# Benchmark report: {measured}

Generated by `bench/run.py` on {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}; re-running
the command overwrites this file. See `bench/README.md` for what is measured and how.

## Result

{table(summaries)}

Targets (throughput relative to the bare endpoint with FastAPI's default JSON, "bare"):
Bearer ≥ {TARGETS["bearer"]}×, DPoP ≥ {TARGETS["dpop"]}×, payments ≥ {TARGETS["payments"]}×,
with the request log on and
tracing at its default sampling; the "÷ bare-orjson" columns are shown alongside and carry
no target.
Numbers are the median over {len(rounds)} round(s); ratios for latency are phase ÷ baseline
(lower is better). Server CPU is the server process's user + system time during the measured
phase divided by its requests (all threads); a share near 1.0 means the server's core was
saturated.

**Baselines.** {BASELINE_DIFFERENCE} {_baseline_gap(summaries)}

{validity}
{_payments_section(config, summaries)}
## Per round

{chr(10).join(per_round)}

## How it was measured

- Command: `{command}`
- Load: wrk, {config["threads"]} thread(s), {config["connections"]} connections,
  {config["warmup"]:g} s warm-up then {config["duration"]:g} s measured per phase (the
  payments: see above); phases run bare → bare-orjson → Bearer → DPoP (→ bare POST → payments)
  in each round, all against servers started by the same run.
- DPoP: {config["dpop_proofs"]} proofs generated right before the phase (ES256, unique `jti`,
  `htu`, `ath`, `iat` at generation); generation took {config["dpop_generation_s"]} s.
- Servers: uvicorn, 1 worker, uvloop, httptools, access log off; the gateway with its request
  log on (`OBGW_LOG_LEVEL=INFO`, one JSON line per request) and tracing at its default
  sampling, SQLite in a temporary `OBGW_DATA_DIR`; pinned with
  `{config["server_pinning"]}`, wrk with `{config["client_pinning"]}`.
- Response body: {config["body_bytes"]["gateway"]} bytes from the gateway,
  {config["body_bytes"]["bare"]} bytes from the bare endpoint and
  {config["body_bytes"]["bare_orjson"]} from bare-orjson (the same document; the two bare
  bodies are byte-identical, checked at start-up).

## Machine

- nproc: {host["nproc"]}; CPU: {host["cpu_model"]}; kernel {host["kernel"]}
- Python {host["python"]}; {packages}
- {host["wrk"]}
"""
    path.write_text(text)
