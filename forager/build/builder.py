"""The builder: a repository in, a validated Docker image with working tests out.

Layers: base (one per Python, ``images``) -> dependencies (``layers``: keyed by the dependency
list, so commits of one repository and repositories with the same needs share it) -> repository
(``repository``: code, project install, repairs). Every step runs in a sandboxed container and is
logged in the registry (``steplog``); the image is validated by running the tests twice with the
network off (``validate``) and entered in the catalogue (``catalogue``).
"""

from __future__ import annotations

import shlex
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from forager.build import images
from forager.build.asof import as_of_commit, source_as_of
from forager.build.catalogue import record_image
from forager.build.context import BuildContext
from forager.build.detect.ci_recipe import ci_recipe
from forager.build.detect.pipeline import detect
from forager.build.detect.pythons import preference
from forager.build.detect.suite import static_test_functions, suite_share
from forager.build.detect.testpaths import test_files
from forager.build.errors import BuildError
from forager.build.later import wait_removals
from forager.build.layers import deps_layer, tag_part
from forager.build.owners import BUILD_LABEL, INTERRUPTED, OWNER_LABEL, owner, reap_dead_owners
from forager.build.recipe import Recipe
from forager.build.repository import repository_layer
from forager.build.setup_agent import run_setup_agent
from forager.build.sources import Source, SourceError, resolve
from forager.build.steplog import StepLog
from forager.build.testrun import TestRun
from forager.build.uv import seed_cache_volume
from forager.build.validate import broken, judge, record_results, run_suite
from forager.config import Settings, get_settings
from forager.enums import BuildStatus
from forager.errors import EngineError
from forager.store import build_records, db

# the owner names are re-exported: the reaper and its tests know the builder by them
__all__ = ["BUILD_LABEL", "INTERRUPTED", "OWNER_LABEL", "BuildError", "BuildResult", "build", "owner",
           "reap_dead_owners"]


@dataclass
class BuildResult:
    build_id: str
    source: str
    commit: str | None = None
    status: str = BuildStatus.FAILED
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


def _start_row(build_id: str | None, source: str, commit: str | None) -> str:
    """The build row, new or (a job delivered again) started afresh: old logs and results dropped."""
    return build_records.start_build(build_id, source, commit, owner())


def _register_source(build_id: str, src: Source) -> str:
    """The repository row of ``src`` (made on first sight), linked to the build; its id."""
    return build_records.register_source(build_id, src.spec, src.name, src.kind, src.commit)


def _finish_row(result: BuildResult) -> None:
    build_records.finish_build(result.build_id, {
        "status": result.status, "error": result.error, "duration_s": result.duration_s,
        "python": result.python, "install": result.install, "test_command": result.test_command,
        "tests": result.tests, "image": result.image})


def _detect(src: Source, python: str | None, log: StepLog, settings: Settings) -> Recipe:
    """The recipe, for ``python`` or the first Python the project allows (a missing base is made
    on first use); BuildError when the repository has no tests."""
    recipe = detect(src.path, preference(settings.default_python) if python is None else (python,),
                    source_as_of(src, settings))
    if python:
        recipe.python = python
    for note in recipe.notes:
        log.info(note)
    if not test_files(src.path):
        raise BuildError("no tests found: no test_*.py / *_test.py files and no tests/ directory")
    as_of_commit(recipe, src, settings)
    return recipe


def _deps(ctx: BuildContext) -> str:
    """The base (with the toolchain layer when the recipe needs one) and the dependency layer."""
    base = images.ensure_base(ctx.recipe.python, log=ctx.log.info)
    if ctx.recipe.toolchain:
        base = images.ensure_toolchain(base, log=ctx.log.info)
    return deps_layer(ctx, base)


def _more_runs(ctx: BuildContext, image: str, n: int) -> tuple[TestRun, ...]:
    """The validation runs past the second (``validation_runs`` 3 or more), side by side."""
    if n <= 0:
        return ()
    with ThreadPoolExecutor(n, thread_name_prefix="forager-validate-more") as pool:
        return tuple(pool.map(lambda k: run_suite(ctx, image, f"validate (run {k})", part=f"validate{k}"),
                              range(3, 3 + n)))


def _build_image(ctx: BuildContext, result: BuildResult, repository_id: str) -> None:
    """Base, dependency and repository layers, then validation; fills in ``result``."""
    recipe, src = ctx.recipe, ctx.src
    seed_cache_volume(ctx.settings)
    deps = _deps(ctx)
    # the farm id keeps two farms on one engine from overwriting each other's tags
    image = (f"{ctx.settings.image_prefix}/{tag_part(recipe.name or src.name)}:"
             f"{tag_part(src.commit[:12])}-py{recipe.python}-{db.farm_id()}")
    first, overlapped = repository_layer(ctx, deps, image)
    second = first if broken(first) else overlapped or run_suite(ctx, image, "validate (second run)")
    result.image, result.test_command = image, recipe.full_test_command()
    more = _more_runs(ctx, image, 0 if broken(first) else ctx.settings.validation_runs - 2)
    verdict = judge(first, second, ctx.settings.pass_threshold, more)
    ran = [t for t, r in first.results.items() if not r.collection and r.outcome != "skipped"]
    recipe.suite = suite_share(static_test_functions(src.path), ran)
    verdict.tests.update(recipe.suite)
    result.status, result.error, result.tests = verdict.status, verdict.error, verdict.tests
    record_results(result.build_id, first, verdict.flaky)
    record_image(image, result.build_id, repository_id, verdict.status, recipe, src)


def _path_recipe(static: Recipe, why: str) -> Recipe:
    """A recipe for another path: the static one's Python, dependencies and pins, no repairs."""
    return Recipe(python=static.python, name=static.name, deps=static.deps,
                  requirement_files=static.requirement_files, test_command=static.test_command,
                  env={k: v for k, v in static.env.items() if k.startswith("PIP_")},
                  constraints=static.constraints, resolution=static.resolution, toolchain=static.toolchain,
                  test_paths=static.test_paths, notes=[*static.notes, why])


def _agent_path(ctx: BuildContext, result: BuildResult, repository_id: str) -> Recipe | None:
    """The last path, with a model endpoint set: the setup agent's commands that worked as the
    recipe's setup commands. None without a model or without such commands."""
    if not ctx.settings.model_url:
        return None
    outcome = run_setup_agent(ctx, _deps(ctx), result.error or "")
    ctx.log.step("setup agent path", note=f"{len(outcome.commands)} command(s) worked, "
                                          f"{len(outcome.rolled_back)} rolled back {outcome.error}".strip())
    if not outcome.commands:
        return None
    recipe = _path_recipe(ctx.recipe, f"earlier paths failed: {result.error}")
    recipe.setup_commands = outcome.commands
    recipe.agent = {"commands": outcome.commands, "rolled_back": outcome.rolled_back, "finished": outcome.finished}
    build_records.drop_test_results(ctx.build_id)
    _build_image(BuildContext(ctx.build_id, ctx.src, recipe, ctx.log, ctx.settings), result, repository_id)
    return recipe


def _ci_path(ctx: BuildContext, result: BuildResult, repository_id: str) -> Recipe | None:
    """The second path, when the static recipe did not validate: the maintainers' CI test job as
    the recipe. Its recipe when it ran (whatever its outcome), else None."""
    found = ci_recipe(ctx.src.path, ctx.recipe.python) if ctx.settings.ci_path else None
    if found is None or not found.setup:
        return None
    recipe = _path_recipe(ctx.recipe, f"static recipe failed: {result.error}")
    recipe.test_paths, recipe.pytest_args = [], [shlex.quote(a) for a in found.pytest_args]
    recipe.setup_commands = found.setup
    recipe.ci = {"workflow": found.workflow, "job": found.job, "skipped": found.skipped}
    recipe.note(f"CI path: {found.workflow} job {found.job}, {len(found.setup)} setup step(s)"
                + (f"; left out: {'; '.join(found.skipped)}" if found.skipped else ""))
    ctx.log.step("CI path", note=recipe.notes[-1])
    build_records.drop_test_results(ctx.build_id)
    _build_image(BuildContext(ctx.build_id, ctx.src, recipe, ctx.log, ctx.settings), result, repository_id)
    return recipe


def build(source: str, commit: str | None = None, python: str | None = None,
          progress: Console | None = None, build_id: str | None = None) -> BuildResult:
    """Build and validate an image for ``source``. Never raises for bad input: failures are
    recorded as a ``failed`` build with a reason.

    ``build_id`` makes a build idempotent: a job delivered again with the same id starts its
    build row afresh (old logs and results dropped) and removes its earlier attempt's containers,
    which are named after the build."""
    settings = get_settings()
    start = time.monotonic()
    result = BuildResult(build_id=_start_row(build_id, source, commit), source=source, commit=commit)
    log = StepLog(result.build_id, progress)
    recipe: Recipe | None = None
    try:
        src = resolve(source, commit, settings)
        result.source, result.commit = src.spec, src.commit
        log.step("source", note=f"{src.kind} {src.spec} @ {src.commit[:12]}")
        repository_id = _register_source(result.build_id, src)
        recipe = _detect(src, python, log, settings)
        result.python = recipe.python
        ctx = BuildContext(result.build_id, src, recipe, log, settings)
        try:
            _build_image(ctx, result, repository_id)
        except BuildError as exc:  # the static recipe failed: the CI path may still work
            result.status, result.error = BuildStatus.FAILED, str(exc)
            log.step("static recipe failed", note=str(exc))
        if result.status != BuildStatus.VALIDATED:
            recipe = _ci_path(ctx, result, repository_id) or recipe
        if result.status != BuildStatus.VALIDATED:
            recipe = _agent_path(ctx, result, repository_id) or recipe
    except (SourceError, BuildError, EngineError) as exc:
        result.status, result.error = BuildStatus.FAILED, str(exc)
        log.step("failed", note=str(exc))
    except Exception as exc:  # noqa: BLE001 - the farm keeps going; the reason and the traceback are recorded
        result.status, result.error = BuildStatus.FAILED, f"internal error: {type(exc).__name__}: {exc}"
        log.step("failed", note=f"{result.error}\n{traceback.format_exc()}")
    finally:
        wait_removals()
        result.duration_s = time.monotonic() - start
        if recipe is not None:
            result.install = recipe.to_dict()
        _finish_row(result)
    return result
