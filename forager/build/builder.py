"""The builder: a repository in, a validated Docker image with working tests out.

Layers: base (one per Python) -> dependencies (keyed by the dependency list, so commits of one
repository and repositories with the same needs share it) -> repository (code, project install,
repairs). Every step runs in a sandboxed container and is logged in the registry; the image is
validated by running the tests twice with the network off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shlex
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from sqlalchemy import select, update

from forager.build import detect, images, repair
from forager.build.sources import Source, SourceError, resolve
from forager.build.testrun import TestRun, install_plugin, run_tests, site_packages
from forager.clock import utcnow
from forager.config import get_settings
from forager.errors import EngineError, ForagerError
from forager.redact import redact_text
from forager.runtime import ExecResult, Limits, Sandbox, get_runtime
from forager.runtime.pipcache import OVERLAY_LABEL, discard_pip_overlay
from forager.store import db
from forager.text import truncate

LOG_LIMIT = 20000
DISK_POLL_S = 3.0
"""How often a build container's writable layer is measured against ``build_disk_limit_mb``."""
BUILD_LABEL = "forager.build"
OWNER_LABEL = "forager.owner"
INTERRUPTED = "interrupted: owner process died"
log_ = logging.getLogger("forager.builder")


class BuildError(ForagerError):
    """A build step failed in a way the repair loop cannot fix."""


@dataclass
class BuildResult:
    build_id: str
    source: str
    commit: str | None = None
    status: str = "failed"
    image: str | None = None
    python: str | None = None
    install: dict[str, Any] = field(default_factory=dict)
    test_command: str | None = None
    tests: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    error: str | None = None

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "commit": self.commit, "status": self.status, "image": self.image,
                "python": self.python, "install": self.install, "test_command": self.test_command,
                "tests": self.tests, "duration_s": round(self.duration_s, 1), "error": self.error,
                "build_id": self.build_id}


class _Logger:
    def __init__(self, build_id: str, progress: Console | None) -> None:
        self.build_id = build_id
        self.progress = progress

    def step(self, step: str, command: str = "", res: ExecResult | None = None, note: str = "") -> None:
        with db.session() as s:
            s.add(db.BuildLog(build_id=self.build_id, step=step, command=redact_text(command),
                              exit_code=res.exit_code if res else None,
                              output=redact_text(truncate(res.output if res else note, LOG_LIMIT)),
                              duration_s=res.duration_s if res else 0.0))
        if self.progress is not None:
            mark = "" if res is None else (" [green]ok[/]" if res.ok else f" [red]exit {res.exit_code}[/]")
            extra = f" ({res.duration_s:.1f}s)" if res else ""
            self.progress.print(f"[cyan]{escape(step)}[/]{mark}{extra} {escape(note)}".rstrip())

    def info(self, message: str) -> None:
        if self.progress is not None:
            self.progress.print(f"  {escape(message)}")


def owner() -> str:
    """This process, as recorded on the build rows and containers it owns: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _labels(log: _Logger, role: str) -> dict[str, str]:
    return {"forager.role": role, BUILD_LABEL: log.build_id, OWNER_LABEL: owner()}


class DiskWatch:
    """Stops a build container whose writable layer grows past ``build_disk_limit_mb`` and turns
    the step's outcome into a BuildError saying so. The layer is measured every DISK_POLL_S
    seconds, so it can overshoot the limit by what the container writes in one interval plus the
    time the engine takes to measure it. Volumes (the pip cache overlay) are not measured."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.limit_mb = get_settings().build_disk_limit_mb
        self.exceeded_mb = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True, name=f"disk-{box.name}")

    def size_mb(self) -> int:
        return self.box.disk_usage() // (1024 * 1024)

    def _loop(self) -> None:
        while not self.stop.wait(DISK_POLL_S):
            try:
                size = self.size_mb()
            except Exception as exc:  # noqa: BLE001 - measured again next interval
                log_.warning("could not measure %s: %s", self.box.name, exc)
                continue
            if size > self.limit_mb:
                self.exceeded_mb = size
                self.box.kill()
                return

    def __enter__(self) -> DiskWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        if self.exceeded_mb:
            raise BuildError(f"disk limit: the build container wrote {self.exceeded_mb} MB, more than "
                             f"the {self.limit_mb} MB limit (FORAGER_BUILD_DISK_LIMIT_MB); it was stopped")


def _pip(args: str) -> str:
    return f"python -m pip install --no-input --progress-bar off {args}"


def _tag_part(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")[:100] or "x"


# --------------------------------------------------------------------------------- dependencies
def index_requirement(line: str) -> str | None:
    """``line`` when it names only a distribution from the package index; None for local paths,
    URLs, VCS references and pip options (those would run the repository's or someone's code in
    the dependency layer, which writes the shared pip cache)."""
    req = detect.clean_requirement(line)
    if req is None or "://" in req or " @ " in req or "@" in req.split(";")[0].replace(" ", ""):
        return None
    return req


def _filtered_requirement_files(root: Path, files: list[str]) -> dict[str, bytes]:
    """Requirement files (and the files they include, inside the repository) with everything but
    index requirements removed, so they install without the repository itself."""
    out: dict[str, bytes] = {}
    queue = list(files)
    top = root.resolve()
    while queue:
        rel = queue.pop(0)
        if rel in out:
            continue
        path = (root / rel).resolve()
        if not path.is_file() or not path.is_relative_to(top):
            continue
        kept = []
        for line in path.read_text(errors="replace").splitlines():
            s = line.strip()
            m = re.match(r"^(-r|--requirement|-c|--constraint)\s*=?\s*(\S+)$", s)
            if m and "://" not in m.group(2) and not m.group(2).startswith("/"):
                inc = str((Path(rel).parent / m.group(2)).as_posix())
                if (root / inc).resolve().is_relative_to(top):
                    queue.append(inc)
                    kept.append(f"{m.group(1)} {m.group(2)}")
            elif index_requirement(s) is not None:
                kept.append(line.split(" #", 1)[0])
        out[rel] = ("\n".join(kept) + "\n").encode()
    return out


def _deps_layer(base: str, recipe: detect.Recipe, src: Source, log: _Logger) -> str:
    rt = get_runtime()
    settings = get_settings()
    req_files = _filtered_requirement_files(src.path, recipe.requirement_files)
    key = hashlib.sha256(json.dumps({
        "base": rt.image_digest(base), "deps": sorted(recipe.deps), "v": 2,
        "files": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(req_files.items())},
    }, sort_keys=True).encode()).hexdigest()[:16]
    tag = f"{settings.image_prefix}/deps:{_tag_part(recipe.name or src.name)[:40]}-{key}"
    if rt.image_exists(tag):
        log.step("dependencies", note=f"reused {tag}")
        return tag
    installed: list[str] = []
    skipped: list[str] = []
    with rt.start(base, name=f"forager-{log.build_id}-deps", limits=Limits.from_settings(network=True),
                  build_mounts=True, labels=_labels(log, "build-deps")) as box, DiskWatch(box):
        reqs = [r for r in recipe.deps if index_requirement(r)] + ["pytest-timeout"]
        box.put_files({"/tmp/forager/deps.txt": ("\n".join(reqs) + "\n").encode(),
                       **{f"/tmp/forager/reqs/{k}": v for k, v in req_files.items()}})
        res = box.exec(_pip("-r /tmp/forager/deps.txt"), settings.install_timeout_s)
        log.step("dependencies", _pip("-r deps.txt") + f"  # {len(reqs)} requirement(s)", res)
        if res.ok:
            installed = reqs
        else:  # one at a time, keeping what installs
            for req in reqs:
                r1 = box.exec(_pip(shlex.quote(req)), settings.install_timeout_s)
                (installed if r1.ok else skipped).append(req)
            log.step("dependencies one by one", note=f"installed {len(installed)}, skipped {skipped}")
        for rel in recipe.requirement_files:
            if rel not in req_files:
                continue
            r2 = box.exec(_pip(f"-r {shlex.quote(rel)}"), settings.install_timeout_s,
                          workdir="/tmp/forager/reqs")
            log.step(f"requirements {rel}", _pip(f"-r {rel}"), r2)
            if not r2.ok:
                skipped.append(f"-r {rel}")
        box.exec("rm -rf /tmp/forager", 60)
        box.commit(tag, labels={"forager.kind": "deps", "forager.base": base,
                                "forager.skipped": json.dumps(skipped)[:2000]})
    recipe.notes.append(f"dependency layer {tag}" + (f"; skipped {skipped}" if skipped else ""))
    return tag


# --------------------------------------------------------------------------------- repository
def _install_project(box: Sandbox, recipe: detect.Recipe, log: _Logger) -> None:
    settings = get_settings()
    timeout = settings.install_timeout_s
    spec = recipe.install_spec()
    attempts: list[tuple[str, str]] = [("editable", _pip(f"-e {shlex.quote(spec)}"))]
    if recipe.extras:
        attempts.append(("editable, no extras", _pip("-e .")))
    attempts.append(("path", _pip(shlex.quote(spec))))
    last: ExecResult | None = None
    for mode, cmd in attempts:
        res = box.exec(cmd, timeout, workdir="/repo", env=recipe.env)
        pretend = "SETUPTOOLS_SCM_PRETEND_VERSION"
        if not res.ok and repair.needs_pretend_version(res.output) and pretend not in recipe.env:
            recipe.env.update(repair.pretend_version_env(box))
            recipe.repairs.append({"round": 0, "fix": "pretend-version", "why": "VCS version not found"})
            res = box.exec(cmd, timeout, workdir="/repo", env=recipe.env)
        log.step(f"install project ({mode})", cmd, res)
        last = res
        if res.ok:
            if mode == "path":
                _link_source(box, log)
            recipe.install_mode = "editable" if mode.startswith("editable") else "path"
            if mode == "editable, no extras":
                recipe.notes.append("extras failed to install; project installed without them")
            return
    raise BuildError(f"project install failed: {_tail(last.output if last else '')}")


def _link_source(box: Sandbox, log: _Logger) -> None:
    """Non-editable install: a .pth file puts the source tree first on sys.path, so tests (and
    agents' edits) use /repo, not the copy in site-packages (whose metadata stays, so
    importlib.metadata still works)."""
    src_dir = "/repo/src" if box.exec("test -d /repo/src", 10).ok else "/repo"
    line = f"import sys; sys.path.insert(0, {src_dir!r})\n"
    purelib = site_packages(box)
    if purelib:
        box.put_files({f"{purelib}/00-forager-source.pth": line.encode()})
    log.step("link source tree", note=f"{purelib}/00-forager-source.pth: {line.strip()}")


def _tail(text: str, n: int = 1500) -> str:
    text = text.strip()
    return text[-n:] if len(text) > n else text


def _prepare_repo(box: Sandbox, src: Source, log: _Logger) -> None:
    box.put_dir(src.path, "/repo")
    cmd = ("cd /repo && rm -f .forager-sdist && if [ ! -d .git ]; then git init -q && git add -A && "
           "git commit -qm 'forager: source snapshot' --no-verify; "
           "elif [ -n \"$(git status --porcelain)\" ]; then git add -A && "
           "git commit -qm 'forager: working tree snapshot' --no-verify; fi; git rev-parse HEAD")
    res = box.exec(cmd, 300)
    log.step("copy source", "put /repo; " + cmd, res)
    if not res.ok:
        raise BuildError(f"could not prepare /repo: {_tail(res.output)}")


def _run_suite(image: str, recipe: detect.Recipe, log: _Logger, label: str) -> TestRun:
    settings = get_settings()
    with get_runtime().start(image, name=f"forager-{log.build_id}-validate",
                             limits=Limits.from_settings(network=False),
                             labels=_labels(log, "validate")) as box, DiskWatch(box):
        run = run_tests(box, recipe.full_test_command(), timeout=settings.test_timeout_s, env=recipe.env)
    c = run.counts
    log.step(label, recipe.full_test_command(), run.exec,
             note=f"passed {c['passed']} failed {c['failed']} errors {c['error']} skipped {c['skipped']}")
    return run


def build(source: str, commit: str | None = None, python: str | None = None,
          progress: Console | None = None, build_id: str | None = None) -> BuildResult:
    """Build and validate an image for ``source``. Never raises for bad input: failures are
    recorded as a ``failed`` build with a reason.

    ``build_id`` makes a build idempotent: a job delivered again with the same id starts its
    build row afresh (old logs and results dropped) and removes its earlier attempt's containers,
    which are named after the build."""
    settings = get_settings()
    start = time.monotonic()
    with db.session() as s:
        row = s.get(db.Build, build_id) if build_id else None
        if row is None:
            row = db.Build(id=build_id or db.new_id("build"), source=source, commit=commit)
            s.add(row)
        else:
            s.query(db.BuildLog).filter_by(build_id=row.id).delete()
            s.query(db.TestResult).filter_by(build_id=row.id).delete()
        row.status, row.error, row.created_at, row.owner = "running", None, utcnow(), owner()
    result = BuildResult(build_id=row.id, source=source, commit=commit)
    log = _Logger(row.id, progress)
    recipe: detect.Recipe | None = None
    try:
        src = resolve(source, commit)
        result.source, result.commit = src.spec, src.commit
        log.step("source", note=f"{src.kind} {src.spec} @ {src.commit[:12]}")
        with db.session() as s:
            repo = s.query(db.Repository).filter_by(source=src.spec).one_or_none()
            if repo is None:
                repo = db.Repository(source=src.spec, name=src.name, kind=src.kind)
                s.add(repo)
                s.flush()
            b = s.get(db.Build, row.id)
            assert b is not None
            b.repository_id, b.source, b.commit = repo.id, src.spec, src.commit
            repository_id = repo.id
        # any Python a base can be made for: a missing base is bootstrapped on first use
        recipe = detect.detect(src.path, detect.PYTHONS if python is None else (python,))
        if python:
            recipe.python = python
        result.python = recipe.python
        for note in recipe.notes:
            log.info(note)
        if not detect.test_files(src.path):
            raise BuildError("no tests found: no test_*.py / *_test.py files and no tests/ directory")
        base = images.ensure_base(recipe.python, log=log.info)
        deps = _deps_layer(base, recipe, src, log)
        name = _tag_part(recipe.name or src.name)
        # the farm id keeps two farms on one engine from overwriting each other's tags
        image = f"{settings.image_prefix}/{name}:{_tag_part(src.commit[:12])}-py{recipe.python}-{db.farm_id()}"
        run = _repository_layer(deps, image, recipe, src, log)
        broken = run.exec.timed_out or run.exec.exit_code not in (0, 1, 5)
        # a run that timed out or was killed decides the build; a second one would only repeat it
        second = run if broken else _run_suite(image, recipe, log, "validate (second run)")
        result.image, result.test_command = image, recipe.full_test_command()
        _finish(result, recipe, run, second, src, repository_id)
    except (SourceError, BuildError, EngineError, ValueError) as exc:
        result.status, result.error = "failed", str(exc)
        log.step("failed", note=str(exc))
    except Exception as exc:  # noqa: BLE001 - the farm keeps going; the reason is recorded
        result.status, result.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        log.step("failed", note=result.error)
    finally:
        result.duration_s = time.monotonic() - start
        if recipe is not None:
            result.install = recipe.to_dict()
        with db.session() as s:
            b = s.get(db.Build, row.id)
            assert b is not None
            b.status, b.error, b.duration_s = result.status, result.error, result.duration_s
            b.python, b.install, b.test_command = result.python, result.install, result.test_command
            b.tests, b.image, b.finished_at = result.tests, result.image, utcnow()
    return result


def _repository_layer(deps: str, image: str, recipe: detect.Recipe, src: Source, log: _Logger) -> TestRun:
    """The repository layer, built in a container where the repository's own code runs (its
    install, its tests, repairs): that container sees the shared pip cache only through a private
    copy-on-write layer (``runtime.pip_cache_mount``)."""
    rt = get_runtime()
    labels = {"forager.kind": "repository", "forager.source": src.spec, "forager.commit": src.commit,
              "forager.farm": db.farm_id()}
    name = f"forager-{log.build_id}-repo"
    try:
        with rt.start(deps, name=name, limits=Limits.from_settings(network=True), build_mounts=True,
                      labels=_labels(log, "build-repo")) as box, DiskWatch(box):
            run = _install_and_repair(box, image, labels, recipe, src, log)
    finally:  # the container is gone: its private pip cache layer goes too
        discard_pip_overlay(rt, name)
    if not run.results:
        raise BuildError(f"the test run produced no results: {_tail(run.exec.output)}")
    return run


def _install_and_repair(box: Sandbox, image: str, labels: dict[str, str], recipe: detect.Recipe, src: Source,
                        log: _Logger) -> TestRun:
    """Install the project, repair what stops tests from collecting or running, commit the image,
    and return its first validation run."""
    settings = get_settings()
    _prepare_repo(box, src, log)
    _install_project(box, recipe, log)
    install_plugin(box)
    probe = box.exec("python -c 'import pytest_timeout' 2>/dev/null", 60)
    if probe.ok and not any(a.startswith("--timeout") for a in recipe.pytest_args):
        recipe.pytest_args.append(f"--timeout={settings.per_test_timeout_s}")
    for n in range(1, settings.repair_rounds + 1):
        res = box.exec(f"{recipe.full_test_command()} --collect-only -q", 600, workdir="/repo",
                       env=recipe.env)
        fixes = repair.plan_collection(res.output, recipe, src.path)
        log.step(f"collect (round {n})", f"{recipe.full_test_command()} --collect-only -q", res,
                 note="; ".join(f.describe() for f in fixes))
        if not fixes:
            break
        if not repair.apply(box, fixes, recipe, n, log.step):
            break
    _hide_build_artifacts(box, log)

    def commit() -> None:  # the recipe label records the repairs made so far
        box.commit(image, labels={**labels, "forager.recipe": json.dumps(recipe.to_dict())[:60000]},
                   workdir="/repo")

    commit()
    run = _run_suite(image, recipe, log, "validate (first run)")
    for n in range(1, 3):  # failures that show only at run time: fixtures, lazy imports
        fixes = repair.plan_run(run, recipe, src.path)
        if not fixes or not repair.apply(box, fixes, recipe, 100 + n, log.step):
            break
        commit()
        run = _run_suite(image, recipe, log, f"validate (after run repair {n})")
    return run


def _hide_build_artifacts(box: Sandbox, log: _Logger) -> None:
    """What the install left in /repo (egg-info, build/) goes to .git/info/exclude, and tracked
    files it rewrote (an sdist's egg-info) are marked skip-worktree, so the image's tree is clean
    and a task's diff shows only real changes."""
    cmd = ("cd /repo && git status --porcelain --untracked-files=normal | sed -n 's/^?? //p' "
           ">> .git/info/exclude && git ls-files -m -z | xargs -0 -r git update-index --skip-worktree "
           "&& git status --porcelain")
    res = box.exec(cmd, 60)
    log.step("hide build artifacts", cmd, res)


def _finish(result: BuildResult, recipe: detect.Recipe, first: TestRun, second: TestRun, src: Source,
            repository_id: str) -> None:
    settings = get_settings()
    ids = [k for k, v in first.results.items() if not v.collection]
    flaky = [t for t in ids if second.outcome(t) != first.outcome(t)]
    counts = first.counts
    counts["flaky"] = len(flaky)
    counts["collection_errors"] = len(first.collection_errors)
    result.tests = counts
    ran = counts["passed"] + counts["failed"] + counts["error"]
    rate = counts["passed"] / ran if ran else 0.0
    if ran == 0:
        result.status, result.error = "failed", "no tests ran (all skipped or none collected)"
    elif first.exec.timed_out:
        result.status, result.error = "failed", "the test suite timed out"
    elif first.exec.exit_code not in (0, 1, 5):
        result.status = "failed"
        result.error = (f"the test run ended abnormally (exit {first.exec.exit_code}"
                        + (": killed, out of memory or processes" if first.exec.exit_code in (137, -9) else "")
                        + f"): {_tail(first.exec.output, 500)}")
    elif rate < settings.pass_threshold:
        result.status = "failed"
        result.error = f"pass rate {rate:.0%} below the {settings.pass_threshold:.0%} threshold"
    else:
        result.status = "validated"
    rt = get_runtime()
    with db.session() as s:
        for t in ids:
            r1 = first.results[t]
            s.add(db.TestResult(build_id=result.build_id, test_id=t, outcome=r1.outcome,
                                flaky=t in flaky, duration_s=r1.duration))
        if result.image:
            s.merge(db.Image(
                id=result.image, build_id=result.build_id, repository_id=repository_id,
                digest=rt.image_digest(result.image) or "", source=src.spec, commit=src.commit,
                python=recipe.python, recipe=recipe.to_dict(), test_command=recipe.full_test_command(),
                status=result.status, size_bytes=rt.image_size(result.image)))


# --------------------------------------------------------------------------------- dead owners
def _dead(owner_: str | None) -> bool:
    """True when ``owner_`` (host:pid) is a process of this host that no longer runs."""
    host, _, pid = (owner_ or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def reap_dead_owners() -> dict[str, list[str]]:
    """Fail the running builds whose owning process (on this host) died, e.g. a CLI build killed
    with ``kill -9``, and remove their containers and pip cache layers. Safe to call from any
    process at any time: a live owner's work is never touched, and each row changes only by a
    conditional UPDATE (a build that started again under a new owner is left alone)."""
    with db.session() as s:
        running = s.scalars(select(db.Build).where(db.Build.status == "running")).all()
    failed: list[str] = []
    for b in running:
        if not _dead(b.owner):
            continue
        with db.session() as s:
            res = s.execute(update(db.Build)
                            .where(db.Build.id == b.id, db.Build.status == "running", db.Build.owner == b.owner)
                            .values(status="failed", error=INTERRUPTED, finished_at=utcnow())
                            .execution_options(synchronize_session=False))
            if res.rowcount == 1:  # type: ignore[attr-defined]
                s.add(db.BuildLog(build_id=b.id, step="failed", output=INTERRUPTED))
                failed.append(b.id)
    removed: list[str] = []
    try:
        rt = get_runtime()
    except EngineError as exc:
        log_.warning("no engine to look for dead builds' containers: %s", exc)
        return {"builds": failed, "containers": removed}
    for c in rt.containers({BUILD_LABEL: None}):
        if _dead(c.labels.get(OWNER_LABEL)):
            with contextlib.suppress(EngineError):
                if rt.remove_container(c.id):
                    removed.append(c.name)
    for vol in rt.volumes({OVERLAY_LABEL: None}):
        if _dead(vol.labels.get(OWNER_LABEL)):
            discard_pip_overlay(rt, vol.labels[OVERLAY_LABEL])
    return {"builds": failed, "containers": removed}
