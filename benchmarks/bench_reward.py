"""The judged reward (fresh container, ``forager.reward.judge``) against the in-container reward it
replaced, side by side on the same solved episodes.

    .venv/bin/python benchmarks/bench_reward.py [--tasks FILTER] [--repeat 3] [--json]

For each task of the current ``FORAGER_HOME`` registry (``forager tasks generate`` makes them): one
episode container is brought to the task state and solved with the gold patch; then, alternating
and ``--repeat`` times, the *baseline* (what Forager did before: test files named by the ids
restored in the agent's own container, the tests run there) and the *judge* (the agent's /repo
copied out, a fresh container at the task state, the classified diff applied, the tests run
there). Both must resolve. Reported per task: median seconds of each, their ratio and the extra
seconds per episode; and the same over all tasks.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import time
from typing import Any


def baseline_reward(env: Any, spec: Any) -> bool:
    """The pre-judge reward: restore the named test files in the agent's container, run there."""
    from forager.build.testrun import run_tests
    from forager.config import get_settings
    from forager.episode.environment import REPO, AsUser

    ids = spec.fail_to_pass + spec.pass_to_pass
    files = sorted({i.split("::")[0] for i in ids})
    quoted = " ".join(shlex.quote(f) for f in files)
    env.run(f"cd {REPO} && for f in {quoted}; do git cat-file -e {env.base_tree}:\"$f\" 2>/dev/null && "
            f"git show {env.base_tree}:\"$f\" > \"$f\"; done; true", timeout=120)
    result = run_tests(AsUser(env.sandbox, env.user), spec.test_command, timeout=get_settings().test_timeout_s,
                       test_ids=ids, env=spec.env or None)
    return bool(ids) and all(result.outcome(i) == "passed" for i in ids)


def bench_task(task_id: str, repeat: int) -> dict[str, Any]:
    from forager.episode.environment import open_environment
    from forager.episode.reward import judge
    from forager.episode.spec import task_spec

    spec = task_spec(task_id)
    base_s: list[float] = []
    judge_s: list[float] = []
    resolved = {"baseline": True, "judge": True}
    with open_environment(spec.image, task=spec) as env:
        applied = env.apply_patch(spec.gold_patch)
        if applied.exit_code != 0:
            return {"task": task_id, "error": f"gold patch does not apply: {applied.output[:200]}"}
        for n in range(repeat):
            order = ("baseline", "judge") if n % 2 == 0 else ("judge", "baseline")
            for which in order:
                t0 = time.monotonic()
                ok = baseline_reward(env, spec) if which == "baseline" else judge(env, spec).reward.resolved
                (base_s if which == "baseline" else judge_s).append(time.monotonic() - t0)
                resolved[which] = resolved[which] and ok
    b, j = statistics.median(base_s), statistics.median(judge_s)
    return {"task": task_id, "repository": spec.repository, "tests": len(spec.fail_to_pass + spec.pass_to_pass),
            "baseline_s": round(b, 3), "judge_s": round(j, 3), "ratio": round(j / b, 2),
            "extra_s": round(j - b, 3), "resolved": resolved}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="kind=mutate-fix,limit=6", help="task filter (forager run --tasks)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from forager.store.tasks_query import select_tasks

    rows = [bench_task(t, args.repeat) for t in select_tasks(args.tasks)]
    ok = [r for r in rows if "error" not in r]
    summary = {
        "tasks": len(ok),
        "median_baseline_s": round(statistics.median(r["baseline_s"] for r in ok), 3) if ok else None,
        "median_judge_s": round(statistics.median(r["judge_s"] for r in ok), 3) if ok else None,
        "median_ratio": round(statistics.median(r["ratio"] for r in ok), 2) if ok else None,
        "median_extra_s": round(statistics.median(r["extra_s"] for r in ok), 3) if ok else None,
        "all_resolved": all(r["resolved"]["baseline"] and r["resolved"]["judge"] for r in ok),
    }
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=1))
        return
    print(f"{'task':<22} {'repository':<34} {'tests':>5} {'baseline s':>10} {'judge s':>8} {'ratio':>6} "
          f"{'extra s':>8}  resolved")
    for r in rows:
        if "error" in r:
            print(f"{r['task']:<22} error: {r['error']}")
            continue
        res = "yes" if r["resolved"]["baseline"] and r["resolved"]["judge"] else str(r["resolved"])
        print(f"{r['task']:<22} {str(r['repository'])[-34:]:<34} {r['tests']:>5} {r['baseline_s']:>10} "
              f"{r['judge_s']:>8} {r['ratio']:>6} {r['extra_s']:>8}  {res}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
