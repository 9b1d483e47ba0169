"""Requirements named by the project's tools: tox environments, nox sessions and the
``pip install`` steps of its own GitHub workflows (the maintainers' CI recipe)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from forager.build.detect.declared import group_reqs
from forager.build.detect.findings import Findings
from forager.build.detect.pipargs import EXTRAS_ONLY, VALUE_OPTIONS, pip_install_args
from forager.build.detect.project_files import ProjectFiles, split_reqs
from forager.build.detect.requirements import REQ_FILE_SKIP

TOX_FACTOR = re.compile(r"^[\w,{}.-]+:\s")
"""``py38: dep`` or ``{py37,py38}: dep``: a dependency of some tox factors."""


def _tox_test_sections(files: ProjectFiles) -> list[str]:
    return [s for s in files.tox.sections()
            if s == "testenv" or s.startswith("testenv:") and re.search(r"py|test|unit", s)]


def from_tox(files: ProjectFiles, found: Findings) -> None:
    """deps (``-r`` files and requirements) and extras of tox's test environments."""
    for section in _tox_test_sections(files):
        for line in split_reqs(files.tox.get(section, "deps", fallback="")):
            line = re.sub(r"^[\w,{}.-]+:\s*", "", line.strip()) if TOX_FACTOR.match(line) else line
            if line.startswith("-r"):
                rel = line[2:].strip().replace("{toxinidir}/", "")
                if (files.root / rel).is_file():
                    found.add_file(rel)
            elif "{" not in line:
                found.add([line], f"tox [{section}] deps")
        for extra in re.split(r"[\s,]+", files.tox.get(section, "extras", fallback="")):
            if extra:
                found.add_extra(extra, f"extra [{extra}] (tox)")


def from_nox(root: Path, found: Findings) -> None:
    """What ``session.install(...)`` calls of noxfile.py install."""
    noxfile = root / "noxfile.py"
    if not noxfile.exists():
        return
    for call in re.findall(r"session\.install\(([^)]*)\)", noxfile.read_text(errors="replace")):
        args = re.findall(r"['\"]([^'\"]+)['\"]", call)
        for i, arg in enumerate(args):
            after = args[i - 1] if i else ""
            if after in ("-r", "--requirement") and (root / arg).is_file():
                found.add_file(arg)
            elif m := EXTRAS_ONLY.match(arg):
                for extra in m.group(1).split(","):
                    found.add_extra(extra)
            elif not arg.startswith("-") and after not in VALUE_OPTIONS and "{" not in arg:
                found.add([arg], "noxfile session.install")


def _workflow_scripts(path: Path) -> list[str]:
    """The ``run:`` scripts of a workflow's steps that install something."""
    try:
        doc = yaml.safe_load(path.read_text(errors="replace")) or {}
    except yaml.YAMLError:
        return []
    scripts = []
    for job in (doc.get("jobs") or {}).values():
        for step in (job or {}).get("steps", []) or []:
            run = step.get("run") if isinstance(step, dict) else None
            if isinstance(run, str) and re.search(r"install|uv sync", run):
                scripts.append(run)
    return scripts


def from_ci(files: ProjectFiles, found: Findings) -> None:
    """Requirements, requirement files, extras and dependency groups of the install steps of the
    workflows (``pip install``, ``uv pip install``, ``uv sync``)."""
    root = files.root
    groups = files.pyproject.get("dependency-groups", {})
    for wf in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        for script in _workflow_scripts(wf):
            args = pip_install_args(script, root, found.python)
            found.add(args.reqs, f"CI workflow {wf.name}")
            for rel in args.files:
                if not REQ_FILE_SKIP.search(Path(rel).name):
                    found.add_file(rel)
            for extra in args.extras:
                found.add_extra(extra)
            for group in args.groups:
                if not REQ_FILE_SKIP.search(group) and not re.search(r"type|lint|check", group, re.I):
                    found.add(group_reqs(groups, group), f"dependency-group {group} (CI workflow {wf.name})")
