"""The dependency layer: the base image plus the repository's index requirements, tagged by a
hash of what it holds, so commits of one repository (and repositories with the same needs)
share it. It writes the shared pip cache, so it installs index packages only: no paths, URLs or
VCS references, which would run someone's code there."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path

from forager.build.context import BuildContext
from forager.build.detect.declared import declared_extras
from forager.build.detect.locks import CONSTRAINTS_PATH
from forager.build.detect.project_files import ProjectFiles, split_reqs
from forager.build.detect.requirements import clean_requirement, requirement_key
from forager.build.later import remove_later
from forager.build.pip import pip_install
from forager.build.recipe import Recipe
from forager.build.uv import provide_uv
from forager.runtime import Sandbox, get_runtime

REQS_DIR = "/tmp/forager/reqs"
INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)\s*=?\s*(\S+)$")


def tag_part(text: str) -> str:
    """``text`` as a piece of an image tag."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")[:100] or "x"


def index_requirement(line: str, python: str, tooling: bool = False) -> str | None:
    """``line`` when it names only a distribution from the package index; None for local paths,
    URLs, VCS references and pip options (and tooling such as linters, unless ``tooling``)."""
    req = clean_requirement(line, python, tooling=tooling)
    if req is None or "://" in req or " @ " in req or "@" in req.split(";")[0].replace(" ", ""):
        return None
    return req


def extra_requirements(root: Path, recipe: Recipe) -> list[str]:
    """The index requirements of the extras the project is installed with (``recipe.extras``)
    that ``recipe.deps`` lacks (extras named by CI or nox install lines bring no requirements
    there), linters included since the extra installs them anyway: in the dependency layer they
    are reused by the next build instead of installed again in every repository layer."""
    if not recipe.extras:
        return []
    try:
        declared = declared_extras(ProjectFiles.read(root))
    except Exception:  # noqa: BLE001 - an unreadable project file: the project install brings them
        return []
    have = {requirement_key(d) for d in recipe.deps} | {requirement_key(recipe.name or "")}
    out = []
    for extra in recipe.extras:
        for line in split_reqs(declared.get(extra)):
            req = index_requirement(line, recipe.python, tooling=True)
            if req and requirement_key(req) not in have:
                have.add(requirement_key(req))
                out.append(req)
    return out


def filtered_requirement_files(root: Path, files: list[str], python: str) -> dict[str, bytes]:
    """Requirement files (and the files they include, inside the repository) with everything but
    index requirements removed, so they install without the repository itself."""
    out: dict[str, bytes] = {}
    queue = list(files)
    top = root.resolve()
    while queue:
        rel = queue.pop(0)
        path = (root / rel).resolve()
        if rel in out or not path.is_file() or not path.is_relative_to(top):
            continue
        kept = []
        for line in path.read_text(errors="replace").splitlines():
            s = line.strip()
            m = INCLUDE.match(s)
            if m and "://" not in m.group(2) and not m.group(2).startswith("/"):
                inc = str((Path(rel).parent / m.group(2)).as_posix())
                if (root / inc).resolve().is_relative_to(top):
                    queue.append(inc)
                    kept.append(f"{m.group(1)} {m.group(2)}")
            elif index_requirement(s, python) is not None:
                kept.append(line.split(" #", 1)[0])
        out[rel] = ("\n".join(kept) + "\n").encode()
    return out


def _deps_tag(ctx: BuildContext, base: str, req_files: dict[str, bytes], extra: list[str]) -> str:
    key = hashlib.sha256(json.dumps({
        "base": get_runtime().image_digest(base), "deps": sorted(ctx.recipe.deps), "v": 2,
        **({"extras": sorted(extra)} if extra else {}),
        "pip": pip_env(ctx.recipe), "pins": ctx.recipe.constraints,
        "build": ctx.recipe.build_requires,
        "files": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(req_files.items())},
    }, sort_keys=True).encode()).hexdigest()[:16]
    return f"{ctx.settings.image_prefix}/deps:{tag_part(ctx.recipe.name or ctx.src.name)[:40]}-{key}"


def pip_env(recipe: Recipe) -> dict[str, str]:
    """The recipe's pip settings (pins, upload date bound): every install of the build obeys them."""
    return {k: v for k, v in recipe.env.items() if k.startswith("PIP_")}


def _install_requirements(box: Sandbox, ctx: BuildContext, reqs: list[str]) -> list[str]:
    """All at once, else one at a time keeping what installs; the ones skipped."""
    timeout, env = ctx.settings.install_timeout_s, pip_env(ctx.recipe)
    res = box.exec(pip_install("-r /tmp/forager/deps.txt"), timeout, env=env)
    ctx.log.step("dependencies", pip_install("-r deps.txt") + f"  # {len(reqs)} requirement(s)", res)
    if res.ok:
        return []
    installed: list[str] = []
    skipped: list[str] = []
    for req in reqs:
        (installed if box.exec(pip_install(shlex.quote(req)), timeout, env=env).ok else skipped).append(req)
    ctx.log.step("dependencies one by one", note=f"installed {len(installed)}, skipped {skipped}")
    return skipped


def _install_requirement_files(box: Sandbox, ctx: BuildContext, req_files: dict[str, bytes]) -> list[str]:
    """Each (filtered) requirement file; the ``-r FILE`` that failed."""
    skipped = []
    for rel in ctx.recipe.requirement_files:
        if rel not in req_files:
            continue
        res = box.exec(pip_install(f"-r {shlex.quote(rel)}"), ctx.settings.install_timeout_s, workdir=REQS_DIR,
                       env=pip_env(ctx.recipe))
        ctx.log.step(f"requirements {rel}", pip_install(f"-r {rel}"), res)
        if not res.ok:
            skipped.append(f"-r {rel}")
    return skipped


def deps_layer(ctx: BuildContext, base: str) -> str:
    """The dependency layer's tag: reused when it exists, else built on ``base``."""
    recipe = ctx.recipe
    req_files = filtered_requirement_files(ctx.src.path, recipe.requirement_files, recipe.python)
    extra = extra_requirements(ctx.src.path, recipe)
    tag = _deps_tag(ctx, base, req_files, extra)
    rt = get_runtime()
    if rt.image_exists(tag):
        ctx.log.step("dependencies", note=f"reused {tag}")
        recipe.note(f"dependency layer {tag} (reused)")
        return tag
    box = rt.start(base, name=ctx.container_name("deps"), limits=ctx.limits(network=True), build_mounts=True,
                   labels=ctx.labels("build-deps"))
    try:
        with ctx.watch(box):
            reqs = [r for r in recipe.deps if index_requirement(r, recipe.python)] + ["pytest-timeout"]
            reqs += recipe.build_requires  # index requirements only (detection keeps no others)
            reqs += extra
            ctx.log.step("installer", note=provide_uv(box, ctx.settings))
            box.put_files({"/tmp/forager/deps.txt": ("\n".join(reqs) + "\n").encode(),
                           CONSTRAINTS_PATH: ("\n".join(recipe.constraints) + "\n").encode(),
                           **{f"{REQS_DIR}/{k}": v for k, v in req_files.items()}})
            skipped = _install_requirements(box, ctx, reqs) + _install_requirement_files(box, ctx, req_files)
            box.exec("rm -rf /tmp/forager", 60)
            box.commit(tag, labels={"forager.kind": "deps", "forager.base": base,
                                    "forager.skipped": json.dumps(skipped)[:2000]})
    finally:  # the repository layer starts while the engine removes this container
        remove_later(box)
    recipe.note(f"dependency layer {tag}" + (f"; skipped {skipped}" if skipped else ""))
    return tag
