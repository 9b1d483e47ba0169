"""Requirements the project declares: runtime dependencies, test-like extras, ``tests_require``,
and test dependency groups (PEP 735, Poetry, PDM, Hatch, uv). Each function returns
``(where, requirements)`` pairs, in the order they are added."""

from __future__ import annotations

import re
from typing import Any

from forager.build.detect.project_files import ProjectFiles, split_reqs

TEST_EXTRAS = ("test", "tests", "testing", "test-deps", "tests-deps", "testing-deps", "dev", "develop",
               "development", "ci", "check", "all-tests", "pytest", "unittest", "full", "all")
TEST_GROUPS = ("test", "tests", "testing", "dev", "develop", "ci", "unit", "pytest")
HATCH_ENVS = ("default", "test", "tests", "testing", "hatch-test", "dev")
Found = list[tuple[str, list[str]]]


def project_name(files: ProjectFiles) -> str:
    name = files.project.get("name") or files.poetry.get("name") or files.cfg("metadata", "name")
    if not name and isinstance(files.setup_py.get("name"), str):
        name = files.setup_py["name"]
    return str(name or "")


def build_requires(files: ProjectFiles, python: str) -> list[str]:
    """``[build-system].requires`` and ``setup_requires`` (setuptools and wheel without a pyproject),
    the index ones only."""
    from forager.build.detect.requirements import clean_requirement

    system = files.pyproject.get("build-system", {})
    reqs = list(system.get("requires", [])) if files.pyproject.get("build-system") else ["setuptools", "wheel"]
    reqs += split_reqs(files.cfg("options", "setup_requires")) + split_reqs(files.setup_py.get("setup_requires"))
    out = []
    for r in reqs:
        line = clean_requirement(str(r), python, tooling=True)
        if line and "://" not in line and "@" not in line:
            out.append(line)
    if any(re.match(r"hatchling\b", r, re.I) for r in out):
        out.append("editables")  # hatchling's editable builds may ask for it; else the isolated install runs
    return list(dict.fromkeys(out))


def poetry_deps(table: dict[str, Any]) -> list[str]:
    """Poetry's ``name = spec`` table as requirement names (path, git and URL ones left out)."""
    out = []
    for name, spec in table.items():
        if name.lower() == "python":
            continue
        extras = ""
        if isinstance(spec, dict):
            if "path" in spec or "git" in spec or "url" in spec:
                continue
            if spec.get("extras"):
                extras = f"[{','.join(spec['extras'])}]"
        out.append(f"{name}{extras}")
    return out


def group_reqs(groups: dict[str, Any], name: str, seen: set[str] | None = None) -> list[str]:
    """PEP 735 dependency group, following include-group."""
    seen = seen or set()
    if name in seen or name not in groups:
        return []
    seen.add(name)
    out: list[str] = []
    for item in groups[name]:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and "include-group" in item:
            out.extend(group_reqs(groups, item["include-group"], seen))
    return out


def runtime_requirements(files: ProjectFiles) -> Found:
    return [("pyproject [project].dependencies", list(files.project.get("dependencies", []))),
            ("setup.cfg install_requires", split_reqs(files.cfg("options", "install_requires"))),
            ("setup.py install_requires", split_reqs(files.setup_py.get("install_requires"))),
            ("poetry dependencies", poetry_deps(files.poetry.get("dependencies", {})))]


def declared_extras(files: ProjectFiles) -> dict[str, list[str]]:
    """Every extra the project declares (pyproject first, then setup.cfg, setup.py, Poetry)."""
    declared: dict[str, list[str]] = dict(files.project.get("optional-dependencies", {}))
    if files.setup_cfg.has_section("options.extras_require"):
        for k, v in files.setup_cfg.items("options.extras_require"):
            declared.setdefault(k, split_reqs(v))
    if isinstance(files.setup_py.get("extras_require"), dict):
        for k, v in files.setup_py["extras_require"].items():
            declared.setdefault(str(k), split_reqs(v))
    for k, v in files.poetry.get("extras", {}).items():
        declared.setdefault(k, list(v))
    return declared


def _extra_key(name: str) -> str:
    return re.sub(r"[_.]", "-", name.lower())


def testlike_extras(declared: dict[str, list[str]]) -> list[str]:
    """The declared extras that look like test extras, most test-like first."""
    test_like = [e for e in declared if _extra_key(e) in TEST_EXTRAS]
    return sorted(test_like, key=lambda e: TEST_EXTRAS.index(_extra_key(e)))


def tests_require(files: ProjectFiles) -> Found:
    return [("setup.cfg tests_require", split_reqs(files.cfg("options", "tests_require"))),
            ("setup.py tests_require", split_reqs(files.setup_py.get("tests_require")))]


def dependency_groups(files: ProjectFiles) -> Found:
    """Test-like dependency groups: PEP 735, Poetry, PDM, Hatch environments, uv."""
    groups = files.pyproject.get("dependency-groups", {})
    tool = files.tool
    found: Found = [(f"dependency-group {g}", group_reqs(groups, g)) for g in groups if g.lower() in TEST_GROUPS]
    found += [(f"poetry group {g}", poetry_deps(table.get("dependencies", {})))
              for g, table in files.poetry.get("group", {}).items() if g.lower() in TEST_GROUPS]
    found.append(("poetry dev-dependencies", poetry_deps(files.poetry.get("dev-dependencies", {}))))
    found += [(f"pdm dev-dependencies {g}", list(reqs))
              for g, reqs in tool.get("pdm", {}).get("dev-dependencies", {}).items() if g.lower() in TEST_GROUPS]
    found += [(f"hatch env {name}", list(env.get("dependencies", [])) + list(env.get("extra-dependencies", [])))
              for name, env in tool.get("hatch", {}).get("envs", {}).items()
              if name in HATCH_ENVS and isinstance(env, dict)]
    found.append(("uv dev-dependencies", list(tool.get("uv", {}).get("dev-dependencies", []))))
    return found
