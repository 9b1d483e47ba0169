"""The repository in its build container: the code at /repo as a clean git checkout, the
project installed (editable, else from the path with the source tree first on sys.path), and
what the install left in the tree hidden from git."""

from __future__ import annotations

import shlex

from forager.build.context import BuildContext
from forager.build.errors import BuildError
from forager.build.pip import pip_install
from forager.build.recipe import InstallMode
from forager.build.repair.license import license_placeholder, needs_license_file
from forager.build.repair.version import PRETEND_VERSION, needs_pretend_version, pretend_version_env
from forager.build.steplog import StepLog, tail
from forager.build.testrun import site_packages
from forager.build.toolchain import NEEDS_COMPILER, install_toolchain, pure_python_switch
from forager.build.uv import provide_uv
from forager.runtime import ExecResult, Sandbox

SNAPSHOT = ("cd /repo && rm -f .forager-sdist && if [ ! -d .git ]; then git init -q && git add -A && "
            "git commit -qm 'forager: source snapshot' --no-verify; "
            "elif [ -n \"$(git status --porcelain)\" ]; then git add -A && "
            "git commit -qm 'forager: working tree snapshot' --no-verify; fi; git rev-parse HEAD")
HIDE_ARTIFACTS = ("cd /repo && git status --porcelain --untracked-files=normal | sed -n 's/^?? //p' "
                  ">> .git/info/exclude && git ls-files -m -z | xargs -0 -r git update-index --skip-worktree "
                  "&& git status --porcelain")
NO_EXTRAS = "editable, no extras"


def prepare_repo(box: Sandbox, ctx: BuildContext) -> None:
    """The source at /repo, committed (a snapshot commit when it is not a clean git checkout), and
    uv to install with (``uv.provide_uv``)."""
    box.put_dir(ctx.src.path, "/repo")
    res = box.exec(SNAPSHOT, 300)
    ctx.log.step("copy source", "put /repo; " + SNAPSHOT, res)
    if not res.ok:
        raise BuildError(f"could not prepare /repo: {tail(res.output)}")
    ctx.log.step("installer", note=provide_uv(box, ctx.settings))


def _attempts(ctx: BuildContext) -> list[tuple[str, str]]:
    """(mode, command) to try in order: editable, editable without extras, from the path."""
    spec = ctx.recipe.install_spec()
    attempts = [(InstallMode.EDITABLE.value, pip_install(f"--no-build-isolation -e {shlex.quote(spec)}")),
                (InstallMode.EDITABLE.value, pip_install(f"-e {shlex.quote(spec)}"))]
    if ctx.recipe.extras:
        attempts.append((NO_EXTRAS, pip_install("-e .")))
    return [*attempts, (InstallMode.PATH.value, pip_install(shlex.quote(spec)))]


def _install(box: Sandbox, ctx: BuildContext, cmd: str) -> ExecResult:
    """One install attempt; a VCS-versioned build that finds no version is given one and retried."""
    recipe, timeout = ctx.recipe, ctx.settings.install_timeout_s
    res = box.exec(cmd, timeout, workdir="/repo", env=recipe.env)
    if not res.ok and needs_pretend_version(res.output) and PRETEND_VERSION not in recipe.env:
        for key, value in pretend_version_env(box).items():
            recipe.set_env(key, value)
        recipe.record_repair(0, "pretend-version", "VCS version not found")
        res = box.exec(cmd, timeout, workdir="/repo", env=recipe.env)
    if not res.ok and needs_license_file(res.output, ctx.src.path) and not box.exec("test -e /repo/LICENSE", 10).ok:
        box.put_files({"/repo/LICENSE": license_placeholder(ctx.src.path).encode()})
        recipe.record_repair(0, "license-file", "the build backend fetches the license text from the network")
        res = box.exec(cmd, timeout, workdir="/repo", env=recipe.env)
    if not res.ok and NEEDS_COMPILER.search(res.output):
        res = _compiled(box, ctx, cmd, res)
    return res


def _compiled(box: Sandbox, ctx: BuildContext, cmd: str, failed: ExecResult) -> ExecResult:
    """An install that needs a compiler: the toolchain in this container (the recipe says so, for
    the layer next time), else the project's pure-Python switch."""
    recipe, timeout, res = ctx.recipe, ctx.settings.install_timeout_s, failed
    if not recipe.toolchain:
        tools = install_toolchain(box, timeout)
        ctx.log.step("build toolchain", "apt-get install gcc g++ make python3-dev", tools)
        recipe.record_repair(0, "toolchain", "the install needs a C compiler", ok=tools.ok)
        if tools.ok:
            recipe.toolchain = "an install failed for want of a C compiler"
            res = box.exec(cmd, timeout, workdir="/repo", env=recipe.env)
    switch = pure_python_switch(ctx.src.path)
    if not res.ok and switch and switch not in recipe.env:
        recipe.set_env(switch, "1")
        recipe.record_repair(0, "env", "the compiled build failed: the project's pure-Python switch",
                             value=f"{switch}=1", ok=True)
        res = box.exec(cmd, timeout, workdir="/repo", env=recipe.env)
    return res


def run_setup_commands(box: Sandbox, ctx: BuildContext) -> None:
    """The CI path: the test job's own setup steps, in order (a failing one is logged, the tests
    tell whether it mattered), then pytest if they installed none."""
    recipe = ctx.recipe
    for i, command in enumerate(recipe.setup_commands, 1):
        res = box.exec(command, ctx.settings.install_timeout_s, workdir="/repo", env=recipe.env)
        ctx.log.step(f"CI step {i}", command, res)
    if not box.exec("python -c 'import pytest'", 60).ok:
        ctx.log.step("install pytest", pip_install("pytest"), box.exec(pip_install("pytest"), 600, env=recipe.env))


def install_project(box: Sandbox, ctx: BuildContext) -> None:
    """Install the project, the first way that works; BuildError when none does. The CI path runs
    the maintainers' setup steps instead."""
    if ctx.recipe.setup_commands:
        run_setup_commands(box, ctx)
        return
    last: ExecResult | None = None
    for mode, cmd in _attempts(ctx):
        last = _install(box, ctx, cmd)
        ctx.log.step(f"install project ({mode})", cmd, last)
        if last.ok:
            if mode == InstallMode.PATH:
                link_source(box, ctx.log)
            ctx.recipe.installed_as(InstallMode.PATH if mode == InstallMode.PATH else InstallMode.EDITABLE)
            if mode == NO_EXTRAS:
                ctx.recipe.note("extras failed to install; project installed without them")
            return
    raise BuildError(f"project install failed: {tail(last.output if last else '')}")


def link_source(box: Sandbox, log: StepLog) -> None:
    """Non-editable install: a .pth file puts the source tree first on sys.path, so tests (and
    agents' edits) use /repo, not the copy in site-packages (whose metadata stays, so
    importlib.metadata still works)."""
    src_dir = "/repo/src" if box.exec("test -d /repo/src", 10).ok else "/repo"
    line = f"import sys; sys.path.insert(0, {src_dir!r})\n"
    purelib = site_packages(box)
    if purelib:
        box.put_files({f"{purelib}/00-forager-source.pth": line.encode()})
    log.step("link source tree", note=f"{purelib}/00-forager-source.pth: {line.strip()}")


def hide_build_artifacts(box: Sandbox, log: StepLog) -> None:
    """What the install left in /repo (egg-info, build/) goes to .git/info/exclude, and tracked
    files it rewrote (an sdist's egg-info) are marked skip-worktree, so the image's tree is clean
    and a task's diff shows only real changes."""
    log.step("hide build artifacts", HIDE_ARTIFACTS, box.exec(HIDE_ARTIFACTS, 60))
