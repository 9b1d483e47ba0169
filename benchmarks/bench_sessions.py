"""Sessions through the API vs the in-process shell, and 32 concurrent sessions.

    .venv/bin/python benchmarks/bench_sessions.py [--image IMAGE] [--repeat 300] [--sessions 32]
        [--actions 40] [--out benchmarks/results/sessions.json]

FORAGER_HOME must hold a registry with the image (default: the first validated image there; copy
``/root/farm-home`` first, never use it directly). A benchmark task with empty patches is added on the
image (what an action costs does not depend on the task). ``forager api`` (uvicorn, one process)
is started on 127.0.0.1 with that home (the session sweep at its default interval).

1. Latency of one ``true`` action: through HTTP (``POST /v1/sessions/{id}/actions``: auth, the row's
   claim, the container's persistent shell, the turn recorded) beside the in-process shell
   (``Environment.run`` in a sandbox of the same image), interleaved; p50 / p99 and the ratio
   (goal: HTTP <= 2x the shell).
2. ``--sessions`` sessions open at once: memory per idle session (the session containers' memory
   plus what the API process tree grew by: its shells are ``docker exec`` processes), then every
   session acting at once (one client thread each): actions per second.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def _stats(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(samples) * 1000, 2), "p99_ms": _pct(samples, 0.99),
            "mean_ms": round(statistics.fmean(samples) * 1000, 2), "n": len(samples)}


def bench_task(image: str | None) -> tuple[str, str]:
    """(task id, image): a task with empty patches on ``image`` (or the first validated image)."""
    from sqlalchemy import select

    from forager.store import db

    with db.session() as s:
        if image is None:
            image = s.scalar(select(db.Image.id).where(db.Image.status == "validated").order_by(db.Image.id))
        if image is None:
            raise SystemExit("no validated image in this FORAGER_HOME: copy /root/farm-home or build one")
        row = db.Task(kind="mutate-fix", image_id=image, setup_patch="", gold_patch="", fail_to_pass=[],
                      pass_to_pass=[], problem_statement="benchmark task: nothing to fix")
        s.add(row)
        s.flush()
        return row.id, image


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (kB), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _containers_mem_mb(names: list[str]) -> float:
    if not names:
        return 0.0
    out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", *names],
                         capture_output=True, text=True, check=False).stdout
    total = 0.0
    for line in out.splitlines():
        used = line.split("/")[0].strip()
        num = float("".join(ch for ch in used if ch.isdigit() or ch == "."))
        unit = used.lstrip("0123456789.").lower()
        total += num / 1024 if unit.startswith("kib") else num * 1024 if unit.startswith("gib") else num
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_api(home: str, port: int) -> subprocess.Popen[bytes]:
    env = {"FORAGER_HOME": home, "FORAGER_SESSION_MAX_ACTIONS": "100000",
           "FORAGER_SESSION_MAX_PER_TOKEN": "128", "FORAGER_SESSION_MAX_TOTAL": "128", **os.environ}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "forager"), "api", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=(Path(home) / "bench-api.log").open("wb"),
                            stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the API did not start; see {home}/bench-api.log")


def latency(client: httpx.Client, task_id: str, image: str, repeat: int) -> dict[str, Any]:
    from forager.episode.environment import open_environment

    for _ in range(3):  # an engine under load may refuse a start now and then (503): tried again
        opened = client.post("/v1/sessions", json={"task_id": task_id})
        if opened.status_code == 201:
            break
    sid = opened.raise_for_status().json()["id"]
    shell: list[float] = []
    http: list[float] = []
    with open_environment(image) as env:
        for _ in range(10):  # warm both paths
            env.run("true")
            client.post(f"/v1/sessions/{sid}/actions", json={"tool": "bash", "arguments": {"command": "true"}})
        for _ in range(repeat):  # interleaved: load on the machine hits both columns alike
            t = time.perf_counter()
            env.run("true")
            shell.append(time.perf_counter() - t)
            t = time.perf_counter()
            r = client.post(f"/v1/sessions/{sid}/actions", json={"tool": "bash", "arguments": {"command": "true"}})
            http.append(time.perf_counter() - t)
            assert r.status_code == 200 and r.json()["exit_code"] == 0, r.text
    client.delete(f"/v1/sessions/{sid}")
    s, h = _stats(shell), _stats(http)
    return {"in_process_shell": s, "http_action": h, "ratio_p50": round(h["p50_ms"] / s["p50_ms"], 2),
            "ratio_p99": round(h["p99_ms"] / s["p99_ms"], 2), "goal_ratio": 2.0}


def concurrent(client: httpx.Client, api_pid: int, task_id: str, n: int, actions: int) -> dict[str, Any]:
    rss0 = _tree_rss_kb(api_pid)
    t0 = time.monotonic()
    with ThreadPoolExecutor(4) as pool:  # opening is container start-up: four at a time
        opened = list(pool.map(lambda _: client.post("/v1/sessions", json={"task_id": task_id}), range(n)))
    open_s = time.monotonic() - t0
    ids = [r.json()["id"] for r in opened if r.status_code == 201]
    errors = [f"open: {r.status_code} {r.text[:200]}" for r in opened if r.status_code != 201]
    for sid in ids:  # one action each, so every session has its shell in the API process
        client.post(f"/v1/sessions/{sid}/actions", json={"tool": "bash", "arguments": {"command": "true"}})
    time.sleep(2)
    rss1 = _tree_rss_kb(api_pid)
    containers_mb = _containers_mem_mb([f"forager-{sid}" for sid in ids])

    def run(sid: str) -> list[float]:
        out = []
        with httpx.Client(base_url=str(client.base_url), headers=dict(client.headers), timeout=120) as own:
            for _ in range(actions):
                t = time.perf_counter()
                r = own.post(f"/v1/sessions/{sid}/actions", json={"tool": "bash", "arguments": {"command": "true"}})
                if r.status_code != 200:  # counted, not hidden: the session ended on the server
                    errors.append(f"action: {r.status_code} {r.text[:200]}")
                    return out
                out.append(time.perf_counter() - t)
        return out

    t1 = time.monotonic()
    with ThreadPoolExecutor(n) as pool:
        lat = [x for xs in pool.map(run, ids) for x in xs]
    wall = time.monotonic() - t1
    for sid in ids:
        client.delete(f"/v1/sessions/{sid}")
    api_mb = (rss1 - rss0) / 1024
    return {"sessions": n, "opened": len(ids), "errors": errors, "open_s_total": round(open_s, 1),
            "actions_per_session": actions, "actions_done": len(lat),
            "actions_per_s": round(len(lat) / wall, 1), "action_latency_under_load": _stats(lat),
            "memory_per_idle_session_mb": round((api_mb + containers_mb) / max(1, len(ids)), 1),
            "container_mb_per_session": round(containers_mb / max(1, len(ids)), 1),
            "api_tree_mb_per_session": round(api_mb / max(1, len(ids)), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--actions", type=int, default=40)
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sessions.json"))
    args = parser.parse_args()
    from forager.config import get_settings
    from forager.store import tokens

    home = str(get_settings().home)
    task_id, image = bench_task(args.image)
    token, _ = tokens.create("bench-sessions", "write")
    port = args.port or _free_port()
    api = start_api(home, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            result = {"image": image, "cores": os.cpu_count(), "database": "sqlite (embedded)",
                      "latency": latency(client, task_id, image, args.repeat),
                      "concurrent": concurrent(client, api.pid, task_id, args.sessions, args.actions)}
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    finally:
        api.terminate()
        try:
            api.wait(30)
        except subprocess.TimeoutExpired:  # uvicorn still waiting on connections: it has answered all
            api.kill()
            api.wait(10)


if __name__ == "__main__":
    main()
