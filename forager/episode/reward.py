"""The reward: an episode's work judged where the agent cannot reach.

The agent's container is only read: its ``/repo`` (without ``.git`` and without files over
``FORAGER_MAX_DIFF_FILE_MB``) is copied out by the container's own ``tar`` run as root. Everything
else happens in a *fresh* container from the task's image, brought to the task state, where no
agent process has ever run:

1. the agent's files become a git tree in the image's own object store; the diff against the task
   state is the trajectory's ``final_diff``;
2. each changed path is classified (``classify``): source changes are carried into ``/repo``;
   test files are taken from the task state (their changes are dropped and listed in
   ``restored``); changes to test infrastructure (``conftest.py``, pytest configuration,
   ``sitecustomize``, ``.pth`` files, modules that shadow pytest or the reporter) are dropped
   *and flagged*; so are source changes that reach into pytest's or the reporter's internals;
3. FAIL_TO_PASS and PASS_TO_PASS run as the unprivileged user; every process the run left behind
   is killed before the report is read, from a path chosen per judgement; a test the report names
   twice is flagged.

A flagged reward is never ``resolved``; the trajectory is kept with its flags.
"""

from __future__ import annotations

import configparser
import posixpath
import re
import shlex
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from typing import Any

from forager.build.testrun import run_tests
from forager.episode.environment import (
    CACHE_DIRS,
    REPO,
    SAFE_GIT,
    USER_NAME,
    AsUser,
    Environment,
    open_environment,
    snapshot_tree,
)
from forager.episode.spec import TaskSpec, task_spec
from forager.errors import EngineError
from forager.paths import is_test_path
from forager.runtime import Sandbox
from forager.trajectory.schema import Reward

AGENT_TREE = "/tmp/.forager-agent-tree"
INFRA_FILES = {"conftest.py", "sitecustomize.py", "usercustomize.py", "pytest.ini", ".pytest.ini"}
SHADOWING = {"pytest", "_pytest", "pluggy", "forager_report", "iniconfig"}
"""Module names whose shadowing would replace the test runner or its reporter."""
CONFIG_SECTIONS = {"pyproject.toml": "tool.pytest", "setup.cfg": "tool:pytest", "tox.ini": "pytest"}
MACHINERY = re.compile(
    r"\b(_pytest|pytest_runtest\w*|pytest_collect\w*|pytest_configure|pytest_sessionfinish|"
    r"pytest_report\w*|TestReport|CallInfo|hookimpl|hookwrapper|pluggy|forager_report|"
    r"forager-report|sys\.settrace|sys\.setprofile|sys\.monitoring)\b")
"""Names that reach into the test runner or the reporter: expected in tests, not in a fix."""


@dataclass
class Judgement:
    diff: str
    reward: Reward


@dataclass
class Classified:
    carried: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


def is_test_file(path: str, test_files: set[str]) -> bool:
    """A test file: named by the task's test ids, or a pytest-style test module or test folder."""
    return path in test_files or is_test_path(path)


def infra_reason(path: str) -> str:
    """Why a path is test infrastructure ('' when it is not); config files are judged by content."""
    name = posixpath.basename(path)
    if name in INFRA_FILES:
        return f"test infrastructure changed: {path}"
    if name.endswith(".pth"):
        return f"path configuration file changed: {path}"
    modules = [p[:-3] if p.endswith(".py") else p for p in path.split("/")]
    shadow = SHADOWING.intersection(modules)
    if shadow:
        return f"module shadowing the test runner ({', '.join(sorted(shadow))}): {path}"
    return ""


def pytest_section(name: str, text: str | None) -> object:
    """The pytest part of a configuration file (``None`` when absent, the text when unreadable)."""
    if text is None:
        return None
    section = CONFIG_SECTIONS[name]
    try:
        if name == "pyproject.toml":
            return tomllib.loads(text).get("tool", {}).get("pytest")
        parser = configparser.RawConfigParser()
        parser.read_string(text)
        return dict(parser.items(section)) if parser.has_section(section) else None
    except (tomllib.TOMLDecodeError, configparser.Error, ValueError):
        return text


def classify(changes: dict[str, str], test_files: set[str],
             configs: dict[str, tuple[str | None, str | None]]) -> Classified:
    """Sort changed paths (path -> git status letter) into carried, restored and flagged.

    ``configs`` holds (task-state text, agent text) of changed pytest configuration files."""
    out = Classified()
    for path in sorted(changes):
        name = posixpath.basename(path)
        reason = infra_reason(path)
        if reason:
            out.flags.append(reason)
            out.restored.append(path)
        elif name in CONFIG_SECTIONS and path in configs:
            before, after = configs[path]
            if pytest_section(name, before) != pytest_section(name, after):
                out.flags.append(f"pytest configuration changed: {path}")
                out.restored.append(path)
            else:
                out.carried.append(path)
        elif is_test_file(path, test_files):
            out.restored.append(path)
        else:
            out.carried.append(path)
    return out


def machinery_flags(patch_by_file: dict[str, str], before: dict[str, str | None]) -> list[str]:
    """Carried Python files whose added lines reach into pytest or the reporter, where the file
    did not already (a pytest plugin's own sources may)."""
    flags = []
    for path, patch in sorted(patch_by_file.items()):
        added = "\n".join(line[1:] for line in patch.splitlines()
                          if line.startswith("+") and not line.startswith("+++"))
        hit = MACHINERY.search(added)
        if hit and not MACHINERY.search(before.get(path) or ""):
            flags.append(f"source change reaches into the test machinery ({hit.group(0)}): {path}")
    return flags


# ----------------------------------------------------------------------------- in the containers
def _git(box: Sandbox, args: str, timeout: float = 120) -> tuple[int, str]:
    res = box.exec(f"{SAFE_GIT} --git-dir={box.path(REPO)}/.git {args}", timeout, workdir=REPO, user="root")
    return res.exit_code, res.output


def _show(box: Sandbox, tree: str, path: str) -> str | None:
    code, out = _git(box, f"show {tree}:{shlex.quote(path)}")
    return out if code == 0 else None


def export_work(env: Environment) -> tuple[bytes, list[str]]:
    """The agent's /repo as a tar (no .git, no caches; files over the size limit left out and named).
    First, as the agent's user, what it wrote privately is made readable: atomic writers leave
    files 0600 and tools make 0700 caches, and the sandbox's root holds no capability to read
    another user's private files, so such a tree once read as "Permission denied"."""
    settings = env.settings
    mb = settings.max_diff_file_mb
    if env.user != "root":
        env.sandbox.exec(f"chmod -R a+rX {env.repo} 2>/dev/null; true", 120, user=env.user)
    res = env.sandbox.exec(f"cd {env.repo} && /usr/bin/find . -path ./.git -prune -o -type f -size +{mb}M -print",
                           120, user="root")
    big = sorted(line[2:] for line in res.output.splitlines() if line.startswith("./"))
    caches = [f"--exclude={c}" for c in ("*.pyc", *CACHE_DIRS)]  # may be private; never judged anyway
    args = ["--exclude=./.git", *caches, *(f"--exclude=./{p}" for p in big)]
    cap = (settings.episode_disk_limit_mb + 64) * 1024 * 1024
    return env.sandbox.get_tar(REPO, args, max_bytes=cap), big


def judge(env: Environment, task: Any) -> Judgement:
    """Judge the agent's /repo in a fresh container at the task state; see the module docstring."""
    spec = task_spec(task)
    start = time.monotonic()
    try:
        work, too_big = export_work(env)
    except EngineError as exc:
        reward = Reward(resolved=False, flags=[f"the agent's work could not be read: {exc}"],
                        duration_s=time.monotonic() - start)
        return Judgement("", reward)
    with open_environment(spec.image, name=f"{env.sandbox.name}-judge", task=spec, runtime=env.runtime,
                          settings=env.settings) as fresh:
        diff, reward = _judge_in(fresh, spec, work)
    reward.restored = sorted({*reward.restored, *too_big})
    reward.duration_s = time.monotonic() - start
    return Judgement(diff, reward)


def _judge_in(fresh: Environment, spec: TaskSpec, work: bytes) -> tuple[str, Reward]:
    box = fresh.sandbox
    tree_dir = box.path(AGENT_TREE)
    box.exec(f"rm -rf {tree_dir} && mkdir -p {tree_dir}", 60, user="root")
    box.put_tar(work, AGENT_TREE)
    base = fresh.base_tree
    agent_tree = snapshot_tree(box, AGENT_TREE)
    if not base or not agent_tree:
        return "", Reward(resolved=False, flags=["the agent's work could not be snapshotted"])
    _, diff = _git(box, f"diff --binary --no-renames {base} {agent_tree}", 300)
    _, names = _git(box, f"diff --no-renames --name-status -z {base} {agent_tree}")
    fields = names.split("\0")
    changes = {fields[i + 1]: fields[i] for i in range(0, len(fields) - 1, 2) if fields[i]}
    configs = {p: (_show(box, base, p), _show(box, agent_tree, p))
               for p in changes if posixpath.basename(p) in CONFIG_SECTIONS}
    test_files = {i.split("::")[0] for i in spec.fail_to_pass + spec.pass_to_pass}
    sorted_paths = classify(changes, test_files, configs)
    flags = list(sorted_paths.flags)
    if sorted_paths.carried:
        flags += _carry(fresh, base, agent_tree, sorted_paths.carried)
    reward = _run_judged_tests(fresh, spec)
    reward.flags = [*flags, *reward.flags]
    reward.restored = sorted_paths.restored
    reward.resolved = reward.resolved and not reward.flags
    return diff, reward


def _carry(fresh: Environment, base: str, agent_tree: str, carried: list[str]) -> list[str]:
    """Apply the agent's changes to the carried paths in the fresh /repo; flags for what reaches
    into the test machinery or cannot be applied."""
    box = fresh.sandbox
    py = [p for p in carried if p.endswith(".py")]
    patches = {p: _git(box, f"diff --no-renames {base} {agent_tree} -- {shlex.quote(p)}")[1] for p in py}
    flags = machinery_flags(patches, {p: _show(box, base, p) for p in py})
    quoted = " ".join(shlex.quote(p) for p in carried)
    patch_file = f"{box.path(AGENT_TREE)}.patch"
    code, out = _git(box, f"diff --binary --no-renames {base} {agent_tree} -- {quoted} > {patch_file}", 300)
    applied = fresh.run(f"cd {fresh.repo} && git apply --whitespace=nowarn {patch_file}", timeout=300,
                        limit=4000) if code == 0 else None
    if applied is None or applied.exit_code != 0:
        flags.append("the agent's changes could not be carried into the judged state: "
                     + (applied.output.strip()[:500] if applied else out.strip()[:500]))
    return flags


def _run_judged_tests(fresh: Environment, spec: TaskSpec) -> Reward:
    ids = spec.fail_to_pass + spec.pass_to_pass
    token = uuid.uuid4().hex
    box = AsUser(fresh.sandbox, fresh.user)

    def end_strays() -> None:  # a test run's leftovers must not write the report afterwards
        if fresh.user != "root":  # as that user, kill -1 signals every process of the user but itself
            fresh.sandbox.exec("kill -9 -1 2>/dev/null; true", 30, user=USER_NAME)

    result = run_tests(box, spec.test_command or fresh.test_command, timeout=fresh.settings.test_timeout_s,
                       test_ids=ids, env=spec.env or None, report=f"/tmp/forager-judge-{token}.jsonl",
                       select_path=f"/tmp/forager-judge-{token}.select", settle=end_strays)
    f2p = {i: result.outcome(i) for i in spec.fail_to_pass}
    p2p = {i: result.outcome(i) for i in spec.pass_to_pass}
    twice = sorted(result.twice & set(ids))
    flags = [f"test report tampered: {', '.join(twice[:5])} reported more than once"] if twice else []
    resolved = bool(ids) and all(v == "passed" for v in [*f2p.values(), *p2p.values()])
    return Reward(resolved=resolved, fail_to_pass=f2p, pass_to_pass=p2p, flags=flags)


def compute_reward(env: Environment, task: Any) -> Reward:
    """The episode's reward, judged in a fresh container (``judge``)."""
    return judge(env, task).reward
