"""The repository layer: the code, the project install and the repairs, committed on top of the
dependency layer. Built in a container where the repository's own code runs (its install, its
tests, repairs): that container sees the shared pip cache only through a private copy-on-write
layer, discarded after the build."""

from __future__ import annotations

import json

from forager.build.context import BuildContext
from forager.build.errors import BuildError
from forager.build.install import hide_build_artifacts, install_project, prepare_repo
from forager.build.later import remove_later, wait_removals
from forager.build.repair.apply import apply
from forager.build.repair.plan import plan_collection, plan_run
from forager.build.steplog import tail
from forager.build.testrun import TestRun, install_plugin
from forager.build.validate import first_run, quick_run, second_run, settle_hangs
from forager.runtime import Sandbox, get_runtime
from forager.runtime.pipcache import discard_pip_overlay
from forager.store import db

RUN_REPAIRS = 2
"""Rounds of repairs for failures that show only when the tests run."""


def _image_labels(ctx: BuildContext) -> dict[str, str]:
    return {"forager.kind": "repository", "forager.source": ctx.src.spec, "forager.commit": ctx.src.commit,
            "forager.farm": db.farm_id()}


def _add_timeout(box: Sandbox, ctx: BuildContext) -> None:
    """A per-test timeout, when pytest-timeout is installed and the suite sets none itself."""
    # found, not imported: importing it imports pytest, which costs most of a second on a busy machine
    probe = box.exec("python -c 'import importlib.util as u, sys; "
                     "sys.exit(u.find_spec(\"pytest_timeout\") is None)'", 60)
    if probe.ok and not ctx.recipe.has_pytest_arg("--timeout"):
        ctx.recipe.add_pytest_args(f"--timeout={ctx.settings.per_test_timeout_s}")


def _collect(box: Sandbox, ctx: BuildContext, n: int) -> bool:
    """One collection round: collect the tests and fix what stops them; whether anything changed."""
    recipe = ctx.recipe
    command = f"{recipe.full_test_command()} --collect-only -q"
    res = box.exec(command, 600, workdir="/repo", env=recipe.env)
    fixes = plan_collection(res.output, recipe, ctx.src.path)
    ctx.log.step(f"collect (round {n})", command, res, note="; ".join(f.describe() for f in fixes))
    return bool(fixes) and apply(box, fixes, recipe, n, ctx.log.step, ctx.settings.install_timeout_s)


def needs_collection_round(run: TestRun | None) -> bool:
    """Whether a first run shows what a collection round repairs: no results (pytest did not
    start), collection errors (pytest stops there), an abnormal exit (usage or internal error), or
    an ini option no installed plugin knows (a warning only: the tests ran without its plugin)."""
    if run is None or not run.results or run.collection_errors:
        return True
    return run.exec.exit_code not in (0, 1, 5) or "Unknown config option" in run.exec.output


def _repair_collection(box: Sandbox, ctx: BuildContext, start: int = 1) -> None:
    """Collection rounds from ``start`` until nothing changes, for a bounded number of rounds."""
    for n in range(start, ctx.settings.repair_rounds + 1):
        if not _collect(box, ctx, n):
            break


def _commit(box: Sandbox, ctx: BuildContext, image: str) -> None:
    """Commit the image; its recipe label records the repairs made so far."""
    box.commit(image, labels={**_image_labels(ctx), "forager.recipe": json.dumps(ctx.recipe.to_dict())[:60000]},
               workdir="/repo")


def _install_and_repair(box: Sandbox, ctx: BuildContext, image: str) -> tuple[TestRun, TestRun | None]:
    """Install the project, repair what stops tests from collecting or running, commit the image,
    and return its first validation run and, when the image did not change after it started, the
    second run that overlapped it."""
    prepare_repo(box, ctx)
    install_project(box, ctx)
    install_plugin(box)
    _add_timeout(box, ctx)
    hide_build_artifacts(box, ctx.log)
    _commit(box, ctx, image)
    # speculative: the runs start on the image as installed; a collection round runs only when
    # the first run shows something it could fix (most builds need none, and on a small machine a
    # third pytest beside the two runs slows both); when it changes something, they start again
    first, second = first_run(ctx, image), second_run(ctx, image)
    if ctx.settings.repair_rounds and needs_collection_round(first.result()) and _collect(box, ctx, 1):
        first.drop()
        second.drop()
        _repair_collection(box, ctx, start=2)
        hide_build_artifacts(box, ctx.log)
        _commit(box, ctx, image)
        first, second = first_run(ctx, image), second_run(ctx, image)

    def recommit() -> None:
        second.drop()
        _commit(box, ctx, image)

    run = first.result() or quick_run(ctx, image, "validate (first run)")
    for n in range(1, RUN_REPAIRS + 1):  # failures that show only at run time: fixtures, lazy imports
        fixes = plan_run(run, ctx.recipe, ctx.src.path)
        if not fixes or not apply(box, fixes, ctx.recipe, 100 + n, ctx.log.step, ctx.settings.install_timeout_s):
            break
        recommit()
        run = quick_run(ctx, image, f"validate (after run repair {n})")
    run = settle_hangs(ctx, image, run, recommit)
    return run, second.result()


def repository_layer(ctx: BuildContext, deps: str, image: str) -> tuple[TestRun, TestRun | None]:
    """Build ``image`` on the dependency layer ``deps``; its first validation run, and the second
    when it overlapped the first on the final image."""
    rt = get_runtime()
    name = ctx.container_name("repo")
    wait_removals(name)  # an earlier path's container of this name, and its overlay, are gone first
    try:
        box = rt.start(deps, name=name, limits=ctx.limits(network=True), build_mounts=True,
                       labels=ctx.labels("build-repo"))
    except BaseException:
        discard_pip_overlay(rt, name)
        raise
    try:
        with ctx.watch(box):
            run, second = _install_and_repair(box, ctx, image)
    finally:  # removed in the background; once it is gone, its private pip cache layer goes too
        remove_later(box, then=lambda: discard_pip_overlay(rt, name))
    if not run.results:
        raise BuildError(f"the test run produced no results: {tail(run.exec.output)}")
    return run, second
