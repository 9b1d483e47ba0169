"""The in-container runner of the fast path: one ``docker exec`` runs a whole batch of probes.

A probe is a setup patch (or none: a control run), the test files and ids to run, a gold patch and a
timeout (a probe with no test ids runs its files whole; one marked ``keep`` leaves /repo as it is:
the state a from-history candidate prepared). Per probe the driver applies the setup patch with
``git apply`` (as any consumer of the task would), runs only the probe's tests with pytest (``fork``
mode: a child forked from a process that has imported pytest once, the project imported fresh in
the child; ``spawn`` mode: the test command as a subprocess), kills the child's process group at the
timeout, applies the gold patch and checks that the tracked files are byte for byte the image's
again (``git diff --quiet HEAD``). A dirty tree is reset before the next probe. One JSON line per
probe goes to the output file as it finishes.
"""

from __future__ import annotations

DRIVER_PATH = "/tmp/forager_driver.py"
DRIVER_SOURCE = r'''
"""Forager's batch runner for task candidates (see forager/tasks/driver_script.py)."""
import json
import os
import signal
import subprocess
import sys
import time

REPO = "/repo"
REPORT = "/tmp/forager-probe-report.jsonl"
SELECT = "/tmp/forager-probe-select.txt"
PATCH = "/tmp/forager-probe.patch"


def git(*args):
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)


def apply(patch):
    with open(PATCH, "w") as fh:
        fh.write(patch)
    res = git("apply", "--whitespace=nowarn", PATCH)
    return None if res.returncode == 0 else (res.stderr or res.stdout)[-400:] or "git apply failed"


def read_report():
    out, collection = {}, []
    try:
        with open(REPORT) as fh:
            lines = fh.read().splitlines()
    except OSError:
        return out, collection
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if row.get("collection"):
            collection.append(str(row.get("message", ""))[-600:])
            continue
        entry = {"o": row.get("outcome", "error")}
        if entry["o"] != "passed":
            entry["m"] = str(row.get("message", ""))[-1500:]
        out[row["id"]] = entry
    return out, collection


def run_fork(args, cwd_on_path, timeout):
    pid = os.fork()
    if pid == 0:  # the child: its own process group, quiet, the project imported fresh
        try:
            os.setpgid(0, 0)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            os.chdir(REPO)
            if cwd_on_path:
                sys.path.insert(0, REPO)
            import pytest
            code = pytest.main(args)
        except BaseException:
            code = 99
        os._exit(int(code) if isinstance(code, int) else 1)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), False
        if time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -9, True
        time.sleep(0.005)


def run_spawn(command, args, timeout):
    proc = subprocess.Popen([*command, *args], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        return proc.wait(timeout), False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return -9, True


def clean():
    """Tracked files back to HEAD and stray files gone (what the tests wrote)."""
    git("checkout", "-q", "-f", "HEAD", "--", ".")
    git("clean", "-fdq")


def probe(job, cfg):
    out = {"id": job["id"], "applied": True, "restored": True, "timed_out": False}
    start = time.monotonic()
    if job.get("patch"):
        err = apply(job["patch"])
        if err:
            out.update(applied=False, error=err)
            clean()
            return out
    if os.path.exists(REPORT):
        os.remove(REPORT)
    args = [*cfg["args"], *job["files"], "-p", "forager_report", "--forager-report=" + REPORT]
    if job["tests"]:
        with open(SELECT, "w") as fh:
            fh.write("\n".join(job["tests"]))
        args.append("--forager-select=" + SELECT)
    if cfg["mode"] == "fork":
        code, timed_out = run_fork(args, cfg["cwd_on_path"], job["timeout"])
    else:
        code, timed_out = run_spawn(cfg["command"], args, job["timeout"])
    out["exit"], out["timed_out"] = code, timed_out
    out["results"], out["collection"] = read_report()
    if job.get("gold"):
        err = apply(job["gold"])
        out["restored"] = err is None and git("diff", "--quiet", "HEAD").returncode == 0
        if err:
            out["error"] = "gold: " + err
    if not job.get("keep") and git("status", "--porcelain").stdout.strip():
        clean()
    out["seconds"] = round(time.monotonic() - start, 3)
    return out


def main():
    cfg = json.load(open(sys.argv[1]))
    if cfg["mode"] == "fork":
        import pytest  # noqa: F401 - imported once, before any fork
    with open(cfg["out"], "a", buffering=1) as out:
        for line in open(cfg["jobs"]):
            if line.strip():
                out.write(json.dumps(probe(json.loads(line), cfg)) + "\n")


if __name__ == "__main__":
    main()
'''
