"""Where a gateway request spends its time: py-spy samples the gateway under wrk load.

    .venv/bin/pip install py-spy   # a tool for this script only, not a project dependency
    .venv/bin/python bench/profile.py [--mode bearer|dpop] [--duration 10] [--top 25]

Samples only the thread holding the GIL (`py-spy --gil`), so the shares are of the Python CPU
time. Prints the packages and functions with the most samples, by own time and including
callees, and keeps the collapsed stacks in bench/results/profile-<mode>.txt (flame-graph input).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench import grants
from bench.proofs import write_proofs
from bench.servers import CLIENT_CORE, gateway_server, pinned
from bench.wrk import Load, Measurement, require_wrk, run_wrk

HERE = Path(__file__).resolve().parent
PROOFS_PER_SECOND = 5_000  # comfortably above what one gateway worker serves with DPoP


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Profile the gateway's balances read.")
    parser.add_argument("--mode", choices=("bearer", "dpop"), default="bearer")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    return parser.parse_args()


def aggregate(collapsed: Path) -> tuple[Counter[str], Counter[str], int]:
    """Own and inclusive sample counts per function from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return own, inclusive, total


def package_of(frame: str) -> str:
    """`fastapi`, `gateway`, `asyncio`, ... from a frame like `f (fastapi/routing.py:159)`."""
    location = frame.rpartition("(")[2]
    return location.split("/")[0].split(".py")[0].split(":")[0] or "?"


def by_package(own: Counter[str]) -> Counter[str]:
    grouped: Counter[str] = Counter()
    for frame, count in own.items():
        grouped[package_of(frame)] += count
    return grouped


def show(title: str, counts: Counter[str], total: int, top: int) -> None:
    print(f"\n{title} (share of {total} samples)")
    for frame, count in counts.most_common(top):
        print(f"{100 * count / total:6.1f}%  {frame}")


def wrk_runner(
    url: str, grant: grants.Grant, workdir: Path, loads: list[Load]
) -> Callable[[Load], Measurement]:
    """A function running wrk for one of `loads`; each DPoP load gets its own proofs."""
    if grant.dpop_key is None:
        header = f"Bearer {grant.access_token}"
        return lambda load: run_wrk(url, load, "static.lua", [header])
    files = {}
    for number, load in enumerate(loads):
        files[id(load)] = workdir / f"proofs-{number}.txt"
        count = int(PROOFS_PER_SECOND * load.duration)
        write_proofs(files[id(load)], grant.dpop_key, count, url, grant.access_token)
    authorization = f"DPoP {grant.access_token}"
    return lambda load: run_wrk(url, load, "dpop.lua", [str(files[id(load)]), "1", authorization])


def main() -> int:
    args = parse_args()
    require_wrk()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is not installed: `.venv/bin/pip install py-spy`")
    out = HERE / "results" / f"profile-{args.mode}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="obgw-profile-") as tmp:
        workdir = Path(tmp)
        with gateway_server(workdir / "data", workdir / "gateway.log") as gateway:
            gateway.start("/readyz")
            with httpx.Client(base_url=gateway.url, timeout=10.0) as http:
                partner = grants.sign_up(http)
                grant = grants.customer_grant(http, partner, dpop=args.mode == "dpop")
            url = gateway.url + grants.balances_path(grant)
            load = Load(1, args.connections, args.duration + 1)
            warmup = Load(1, args.connections, 2)
            run = wrk_runner(url, grant, workdir, [warmup, load])
            run(warmup)
            assert gateway.pid is not None
            spy = subprocess.Popen(
                pinned(
                [
                    py_spy, "record", "--pid", str(gateway.pid), "--format", "raw",
                    "--rate", str(args.rate), "--duration", f"{args.duration:g}",
                    "--nonblocking", "--gil", "--output", str(out),
                ], CLIENT_CORE),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(0.5)
            measured = run(load)
            spy.wait()
    print(f"{args.mode}: {measured.rps:,.0f} req/s under py-spy (non-2xx {measured.non_2xx})")
    own, inclusive, total = aggregate(out)
    show("own time by package", by_package(own), total, 15)
    show("own time", own, total, args.top)
    show("including callees", inclusive, total, args.top)
    print(f"\ncollapsed stacks: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
