"""How fast a 1,000-step trajectory opens in the terminal and in the browser.

Baseline: plain ``gzip`` + ``json.loads`` of every line of the same file (the least any viewer must
do). Each row is the median of several runs, and its ratio to that baseline. With Chromium
installed, the browser row is the time headless Chromium needs from start to a screenshot of
the page, minus the time it needs for a tiny page of the same site (its own start-up).

    .venv/bin/python benchmarks/bench_replay.py [--steps 1000] [--runs 7]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_trajectory(steps: int):  # type: ignore[no-untyped-def]
    """A realistic mix: greps, file views, edits, test runs with tracebacks, git diffs."""
    from forager.trajectory.schema import Action, ModelInfo, Reward, Trajectory, Turn

    turns = []
    for i in range(steps):
        kind = i % 5
        message = f"Step {i}: the failure points at module_{i % 17}.py; I will check it.\n" * 2
        if kind == 0:
            action = Action(tool="bash", args={"command": f"grep -rn 'def helper_{i}' src | head -50"})
            obs = "\n".join(f"src/pkg/module_{n}.py:{n * 7}: def helper_{i}(value):" for n in range(30))
            code = 0
        elif kind == 1:
            action = Action(tool="view", args={"path": f"src/pkg/module_{i % 17}.py"})
            obs = "\n".join(f"{n:6d}\t    result = compute(value_{n}, factor={n % 9})" for n in range(1, 120))
            code = 0
        elif kind == 2:
            action = Action(tool="edit", args={"path": f"src/pkg/module_{i % 17}.py",
                                               "old_str": "    return a - b\n    # old\n",
                                               "new_str": "    return a + b\n    # new\n"})
            obs = "edited; lines 10-16 now read:\n" + "\n".join(f"{n:6d}\tline {n}" for n in range(10, 17))
            code = 0
        elif kind == 3:
            action = Action(tool="run_tests", args={"tests": ["tests/test_core.py"]})
            obs = ("============ test session starts ============\n"
                   + "\n".join(f"tests/test_core.py::test_case_{n} PASSED" for n in range(40))
                   + "\n    def test_case_40():\n>       assert add(1, 2) == 3\nE       assert -1 == 3\n"
                   + "======== 1 failed, 40 passed in 0.84s ========")
            code = 1
        else:
            action = Action(tool="bash", args={"command": "git diff"})
            name = f"src/pkg/module_{i % 17}.py"
            context = "".join(f" context line {n}\n" for n in range(3))
            obs = (f"diff --git a/{name} b/{name}\n--- a/{name}\n+++ b/{name}\n@@ -10,7 +10,7 @@\n"
                   + context + "-    return a - b\n+    return a + b\n" + context)
            code = 0
        turns.append(Turn(index=i, model_message=message, action=action, observation=obs, exit_code=code,
                          duration_s=0.1 + (i % 7) / 10, prompt_tokens=1000 + i, completion_tokens=50))
    return Trajectory(id="traj-bench", task_id="task-bench", image="forager/bench:1", repository="bench",
                      kind="mutate-fix", model=ModelInfo(name="bench"), problem_statement="add() is wrong",
                      turns=turns, final_diff=turns[4].observation if steps > 4 else "",
                      reward=Reward(resolved=True,
                                    fail_to_pass={"tests/test_core.py::test_case_40": "passed"}),
                      exit_reason="submitted", duration_s=600.0)


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process, in ms (CPU time is what a loaded,
    shared machine distorts least)."""
    fn()  # warm caches (templates, regexes, imports)
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def browser_ms(url: str, tiny_url: str, runs: int) -> tuple[float, float, float, float] | None:
    """Wall and CPU time (of Chromium's processes) from start to screenshot: page, then tiny page."""
    exe = shutil.which("chromium")
    if exe is None:
        return None

    def load(u: str) -> tuple[float, float]:
        with tempfile.TemporaryDirectory() as profile:
            t0 = time.perf_counter()
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                            "--no-first-run", "--disable-background-networking", "--disable-component-update",
                            "--disable-sync", "--hide-scrollbars", "--window-size=1280,900",
                            f"--user-data-dir={profile}", f"--screenshot={profile}/shot.png", u],
                           capture_output=True, timeout=120, check=True)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
            return time.perf_counter() - t0, cpu

    page = [load(url) for _ in range(runs)]
    tiny = [load(tiny_url) for _ in range(runs)]
    med = [1000 * statistics.median(x[i] for x in sample) for sample in (page, tiny) for i in (0, 1)]
    return med[0], med[1], med[2], med[3]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="forager-bench-"))
    os.environ["FORAGER_HOME"] = str(home)
    os.environ["FORAGER_VIEWER_PUBLIC"] = "true"  # measures page rendering, not sign-in
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from rich.console import Console

    from forager.trajectory import fileformat, replay
    from forager.trajectory import store as trajectory
    from forager.web.app import router
    from forager.web.trajectory_page import trajectory_page

    traj = make_trajectory(args.steps)
    traj_id = trajectory.save(traj)
    path = trajectory.stored_path(traj_id)
    raw_size = len(gzip.decompress(path.read_bytes()))
    app = FastAPI()
    app.include_router(router)
    client = TestClient(app)

    def baseline() -> None:
        for line in gzip.decompress(path.read_bytes()).splitlines():
            json.loads(line)

    def terminal_all() -> None:
        console = Console(file=StringIO(), width=120, color_system="truecolor", force_terminal=True)
        replay.show(replay.open_trajectory(traj_id), console)

    def terminal_step() -> None:
        console = Console(file=StringIO(), width=120, color_system="truecolor", force_terminal=True)
        replay.show(replay.open_trajectory(traj_id), console, step=args.steps // 2)

    loaded = fileformat.read(path)
    rows = [
        ("gzip + json.loads of every line (baseline)", median_ms(baseline, args.runs)),
        ("lenient read into the schema (trajectory.read)",
         median_ms(lambda: fileformat.read(path), args.runs)),
        ("terminal: open + one step (--step N)", median_ms(terminal_step, args.runs)),
        ("terminal: open + all steps (ANSI, 120 cols)", median_ms(terminal_all, args.runs)),
        ("web: page HTML from a loaded trajectory", median_ms(lambda: trajectory_page(loaded), args.runs)),
        ("web: GET /ui/trajectories/{id} (registry + read + render)",
         median_ms(lambda: client.get(f"/ui/trajectories/{traj_id}").raise_for_status(), args.runs)),
        ("web: GET with search ?q=", median_ms(
            lambda: client.get(f"/ui/trajectories/{traj_id}", params={"q": "helper_7"}).raise_for_status(),
            args.runs)),
    ]
    html_size = len(client.get(f"/ui/trajectories/{traj_id}").content)
    browser = None
    if not args.no_browser and shutil.which("chromium"):
        import uvicorn

        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        browser = browser_ms(f"http://127.0.0.1:{port}/ui/trajectories/{traj_id}",
                             f"http://127.0.0.1:{port}/ui/trajectories/no-such-id", max(3, args.runs // 2))
        server.should_exit = True
        thread.join(10)

    base_wall, base_cpu = rows[0][1]
    print(f"trajectory: {args.steps} steps, {raw_size / 1e6:.1f} MB of JSON lines "
          f"({path.stat().st_size / 1e6:.2f} MB gzip); page {html_size / 1e6:.1f} MB of HTML; "
          f"median of {args.runs} runs; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'what':<58} {'wall ms':>8} {'x base':>7} {'CPU ms':>8} {'x base':>7}")
    for name, (wall, cpu) in rows:
        print(f"{name:<58} {wall:8.1f} {wall / base_wall:7.1f} {cpu:8.1f} {cpu / base_cpu:7.1f}")
    if browser:
        page, page_cpu, tiny, tiny_cpu = browser
        wall, cpu = page - tiny, page_cpu - tiny_cpu
        print(f"{'browser: Chromium to a screenshot, minus its start-up':<58} {wall:8.1f} "
              f"{wall / base_wall:7.1f} {cpu:8.1f} {cpu / base_cpu:7.1f}")
        print(f"   (Chromium start to screenshot, wall/CPU: this page {page:.0f}/{page_cpu:.0f} ms, "
              f"a tiny page {tiny:.0f}/{tiny_cpu:.0f} ms)")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
