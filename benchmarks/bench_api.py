"""Load test of trajectory uploads over loopback.

Starts ``forager api`` (uvicorn, one process) on 127.0.0.1 with a scratch FORAGER_HOME, makes a write
token, then uploads trajectories at several concurrencies, each step bounded in request count and
in time. Reports uploads per second and p50/p99 latency per concurrency, the server's RSS before and
after (memory must stay flat), and, side by side, the baseline: the same trajectories stored
in-process by ``forager.trajectory.save`` (no HTTP, no auth) — the ratio is the cost of the API.

    .venv/bin/python benchmarks/bench_api.py [--requests 400] [--seconds 30] [--concurrency 1,8,32,32]
        [--turns 20] [--database-url URL] [--schemathesis] [--out benchmarks/results/api.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_body(turns: int, i: int) -> bytes:
    from forager.trajectory.schema import Action, ModelInfo, Reward, Trajectory, Turn

    t = Trajectory(
        task_id=f"task-bench{i % 50:04d}",
        image="forager/bench:1",
        repository="bench",
        kind="mutate-fix",
        model=ModelInfo(name="bench-model"),
        problem_statement="Fix the bug. " * 20,
        turns=[
            Turn(
                index=k,
                model_message="thinking " * 30,
                action=Action(tool="bash", args={"command": f"ls {k}"}),
                observation="line of output\n" * 40,
                exit_code=0,
                duration_s=0.1,
            )
            for k in range(turns)
        ],
        final_diff="--- a/x\n+++ b/x\n" * 10,
        reward=Reward(resolved=i % 3 == 0),
        exit_reason="submitted",
    )
    return t.model_dump_json().encode()


def rss_kb(pid: int) -> int:
    total = 0
    for p in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load_step(
    url: str, token: str, bodies: list[bytes], concurrency: int, requests: int, seconds: float
) -> dict:
    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as client:

        async def one_worker() -> None:
            nonlocal sent, errors
            while sent < requests and time.monotonic() < deadline:
                body = bodies[sent % len(bodies)]
                sent += 1
                t0 = time.perf_counter()
                r = await client.post("/v1/trajectories", content=body)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 201:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*[one_worker() for _ in range(concurrency)])
        wall = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "wall_s": round(wall, 2),
        "uploads_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(q[49] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
    }


def baseline(bodies: list[bytes], n: int, home: Path) -> dict:
    """The same trajectories stored in-process (parse + save), single-threaded."""
    os.environ["FORAGER_HOME"] = str(home)
    from forager.api.uploads import parse_upload
    from forager.config import reset_settings
    from forager.trajectory.store import save

    reset_settings()
    start = time.perf_counter()
    for i in range(n):
        traj = parse_upload(bodies[i % len(bodies)], "application/json", 1 << 30)
        save(traj, origin="upload")
    wall = time.perf_counter() - start
    return {"requests": n, "uploads_per_s": round(n / wall, 1), "mean_ms": round(wall / n * 1000, 2)}


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "forager.cli", "api", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return server, url


def make_token(env: dict[str, str], scope: str) -> str:
    cmd = [sys.executable, "-m", "forager.cli", "tokens", "create", "bench", "--scope", scope]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def run_schemathesis(home: Path) -> dict:
    """Fuzz a live server (admin token, every operation). Jobs go to a Redis queue that no worker
    reads, so fuzzed builds are recorded but never run; the keys are deleted afterwards."""
    import redis

    prefix = f"forager-bench-fuzz-{os.getpid()}:"
    env = {
        **os.environ,
        "FORAGER_HOME": str(home),
        "FORAGER_EXECUTOR": "celery",
        "FORAGER_REDIS_KEY_PREFIX": prefix,
    }
    token = make_token(env, "admin")
    server, url = start_server(env)
    st = Path(sys.executable).parent / "st"
    cmd = [
        str(st),
        "run",
        f"{url}/openapi.json",
        "-H",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "10",
        "--exclude-method",
        "DELETE",  # DELETE /v1/tokens/{id} could revoke the fuzzer's own token (tests/test_api.py fuzzes it)
    ]
    t0 = time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    finally:
        server.terminate()
        server.wait(20)
        r = redis.Redis.from_url(os.environ.get("FORAGER_REDIS_URL", "redis://127.0.0.1:6379/0"))
        keys = list(r.scan_iter(match=f"{prefix}*"))
        if keys:
            r.delete(*keys)
    lines = out.stdout.strip().splitlines()
    return {"exit_code": out.returncode, "duration_s": round(time.monotonic() - t0, 1), "output": lines[-40:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=400, help="uploads per concurrency step (upper bound)")
    ap.add_argument("--seconds", type=float, default=30, help="time bound per step")
    ap.add_argument("--concurrency", default="1,8,32,32", help="the repeat shows memory stays flat")
    ap.add_argument("--turns", type=int, default=20, help="turns per uploaded trajectory")
    ap.add_argument("--database-url", default="", help="registry URL (default: SQLite in the scratch home)")
    ap.add_argument("--schemathesis", action="store_true", help="also fuzz the live server with schemathesis")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "api.json"))
    args = ap.parse_args()

    bodies = [make_body(args.turns, i) for i in range(20)]
    home = Path(tempfile.mkdtemp(prefix="forager-bench-api-"))
    env = {**os.environ, "FORAGER_HOME": str(home)}
    if args.database_url:
        env["FORAGER_DATABASE_URL"] = args.database_url
    token = make_token(env, "write")
    server, url = start_server(env)
    report: dict = {
        "body_bytes": len(bodies[0]),
        "turns": args.turns,
        "database": args.database_url or "sqlite",
    }
    try:
        asyncio.run(load_step(url, token, bodies, 4, 40, 10))  # warm-up
        report["rss_kb_before"] = rss_kb(server.pid)
        steps = []
        for c in [int(x) for x in args.concurrency.split(",")]:
            step = asyncio.run(load_step(url, token, bodies, c, args.requests, args.seconds))
            step["rss_kb_after"] = rss_kb(server.pid)
            steps.append(step)
        report["steps"] = steps
        report["rss_kb_after"] = rss_kb(server.pid)
    finally:
        server.terminate()
        server.wait(20)
    if args.schemathesis:
        report["schemathesis"] = run_schemathesis(Path(tempfile.mkdtemp(prefix="forager-bench-fuzz-")))
    report["baseline_in_process"] = baseline(bodies, min(args.requests, 200), Path(tempfile.mkdtemp()))

    base = report["baseline_in_process"]["uploads_per_s"]
    print(
        f"trajectory upload ({report['body_bytes']} B JSON, {args.turns} turns), "
        f"database {report['database']}"
    )
    print(
        f"{'concurrency':>11} {'requests':>8} {'errors':>6} {'uploads/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'vs in-process':>13} {'RSS MB':>7}"
    )
    for s in report["steps"]:
        print(
            f"{s['concurrency']:>11} {s['requests']:>8} {s['errors']:>6} {s['uploads_per_s']:>9} "
            f"{s['p50_ms']:>7} "
            f"{s['p99_ms']:>7} {s['uploads_per_s'] / base:>12.2f}x {s['rss_kb_after'] / 1024:>7.1f}"
        )
    print(
        f"{'in-process':>11} {report['baseline_in_process']['requests']:>8} {'':>6} {base:>9} "
        f"{report['baseline_in_process']['mean_ms']:>7} {'':>7} {1:>12.2f}x"
    )
    growth = (report["rss_kb_after"] - report["rss_kb_before"]) / 1024
    print(
        f"server RSS {report['rss_kb_before'] / 1024:.1f} MB -> {report['rss_kb_after'] / 1024:.1f} MB "
        f"({growth:+.1f} MB over {sum(s['requests'] for s in report['steps'])} uploads)"
    )
    if "schemathesis" in report:
        print(
            f"schemathesis exit {report['schemathesis']['exit_code']} "
            f"in {report['schemathesis']['duration_s']}s"
        )
        print("\n".join(report["schemathesis"]["output"][-12:]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
