"""Persistent episode shell vs one ``docker exec`` per command, side by side.

    .venv/bin/python benchmarks/bench_shell.py [--image IMAGE] [--repeat N] [--json]

Both columns run the same commands in the same sandbox container (network off, capabilities
dropped, the episode's non-root user): the baseline through ``DockerSandbox.exec`` (a new
``docker exec`` per command, as most agent harnesses do), Forager through ``Environment.run``
(one long-lived bash, sentinel protocol, in-container timeout, state kept). Reported: median and
p90 latency per command, and the ratio baseline / persistent.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

COMMANDS = {
    "true": "true",
    "echo": "echo hello",
    "ls /repo": "ls -la /repo",
    "cat file": "cat /etc/os-release",
    "grep -r": "grep -rn import /usr/lib/python3*/json | head -n 50",
    "python -c": "python3 -c 'print(1)'",
}


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered) * 1000, 2),
            "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 2)}


def bench(image: str, repeat: int) -> dict[str, Any]:
    from forager.episode.environment import open_environment

    results: dict[str, Any] = {"image": image, "repeat": repeat, "commands": {}}
    with open_environment(image) as env:
        user = env.user
        results["user"] = user
        for label, command in COMMANDS.items():
            env.run(command)  # warm both paths
            env.sandbox.exec(command, 60, user=user)
            shell: list[float] = []
            execs: list[float] = []
            for _ in range(repeat):  # interleaved so load changes hit both columns alike
                t = time.perf_counter()
                env.run(command, timeout=60)
                shell.append(time.perf_counter() - t)
                t = time.perf_counter()
                env.sandbox.exec(command, 60, user=user)
                execs.append(time.perf_counter() - t)
            s, e = _stats(shell), _stats(execs)
            results["commands"][label] = {"persistent": s, "docker_exec": e,
                                          "ratio": round(e["median_ms"] / s["median_ms"], 2)}
    all_ratio = [v["ratio"] for v in results["commands"].values()]
    results["geomean_ratio"] = round(statistics.geometric_mean(all_ratio), 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="forager/rootfs:bookworm")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    res = bench(args.image, args.repeat)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(f"image {res['image']}  user {res['user']}  {res['repeat']} runs per command (median / p90 ms)")
    print(f"{'command':<12} {'docker exec':>22} {'persistent shell':>22} {'ratio':>7}")
    for label, r in res["commands"].items():
        e, s = r["docker_exec"], r["persistent"]
        print(f"{label:<12} {e['median_ms']:>11.1f} / {e['p90_ms']:>7.1f} "
              f"{s['median_ms']:>11.1f} / {s['p90_ms']:>7.1f} {r['ratio']:>6.1f}x")
    print(f"geometric mean ratio: {res['geomean_ratio']}x")


if __name__ == "__main__":
    main()
