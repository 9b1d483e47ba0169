"""Reading a repository to find how to install and test it, with no per-repository config.

Everything is static: nothing from the repository runs on the host. The result is a ``Recipe``
that records what was found and where, so a build's choices can always be explained.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

PYTHONS = ("3.11", "3.13", "3.9")  # preference order among the bases Forager can make
TEST_EXTRAS = ("test", "tests", "testing", "test-deps", "tests-deps", "testing-deps", "dev", "develop",
               "development", "ci", "check", "all-tests", "pytest", "unittest", "full", "all")
TEST_GROUPS = ("test", "tests", "testing", "dev", "develop", "ci", "unit", "pytest")
# Tooling that a test run does not need: left out to keep installs small and likely to succeed.
TOOLING = re.compile(
    r"^(tox|tox-.*|nox|pre-commit|sphinx.*|furo|myst-.*|mkdocs.*|mypy|mypy-.*|black|flake8.*|ruff|pylint"
    r"|isort|twine|build|wheel|check-manifest|coveralls|codecov|types-.*|towncrier|bump.*|ipython"
    r"|ipdb|jupyter.*|notebook|pyright|pydocstyle|pycodestyle|autopep8|yapf|bandit|safety|docformatter"
    r"|readme-renderer|setuptools-scm|virtualenv|pip-tools|pipdeptree|commitizen|doc8|restructuredtext-lint"
    r"|pyroma|interrogate|vulture|darglint|blacken-docs|sphinx_rtd_theme|numpydoc|nbsphinx|pip|poetry"
    r"|hatch|pdm|flit|setuptools|tbump|zest\.releaser|prospector|pytest-(flake8|mypy|black|isort|pylint"
    r"|pycodestyle|ruff|mypy-plugins)|pyupgrade|codespell|pip-audit|uv|gitpython)$",
    re.I,
)
REQ_FILE_PATTERNS = ("requirements*.txt", "requirements/*.txt", "reqs/*.txt", "test-requirements*.txt",
                     "test_requirements*.txt", "dev-requirements*.txt", "requirements-*.txt",
                     "tests/requirements*.txt", "ci/requirements*.txt", "requirements*.in")
REQ_FILE_SKIP = re.compile(r"doc|lint|mypy|typing|release|publish|bench|format|style|pre-commit|build|"
                           r"upload|deploy|min(imum)?[-_]?(version|req)|lowest|oldest", re.I)


def _wanted_requirement_file(rel: str, python: str) -> bool:
    """Leave out documentation/lint files and files pinned for another Python version."""
    if REQ_FILE_SKIP.search(rel):
        return False
    for m in re.finditer(r"(?:^|[/_.-])(?:py|python)?([23])\.?(\d{1,2})(?=$|[/_.-])", rel):
        if f"{m.group(1)}.{m.group(2)}" != python:
            return False
    return True


@dataclass
class Recipe:
    python: str = "3.11"
    name: str = ""
    deps: list[str] = field(default_factory=list)
    """Static requirement specs for the shared dependency layer (runtime + test)."""
    requirement_files: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    install_mode: str = "editable"  # editable | path (a .pth to the source, for backends without PEP 660)
    test_command: str = "python -m pytest"
    test_paths: list[str] = field(default_factory=list)
    pytest_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Where each choice came from."""
    repairs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def install_spec(self) -> str:
        return f".[{','.join(self.extras)}]" if self.extras else "."

    def full_test_command(self) -> str:
        parts = [self.test_command, *self.pytest_args, *self.test_paths]
        return " ".join(parts)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(errors="replace"))
    except (tomllib.TOMLDecodeError, OSError):
        return {}


def _ini(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    with contextlib.suppress(configparser.Error, OSError, UnicodeDecodeError):
        cp.read_string(path.read_text(errors="replace"))
    return cp


def clean_requirement(line: str) -> str | None:
    """A PEP 508 requirement without local paths, editable installs or pip options; None to skip."""
    line = line.split(" #", 1)[0].strip()
    if not line or line.startswith(("#", "-", ".", "/", "git+", "http")) or "@ file:" in line:
        return None
    try:
        req = Requirement(line)
    except InvalidRequirement:
        return None
    if req.marker is not None:
        try:
            if not req.marker.evaluate({"python_version": "3.11", "python_full_version": "3.11.2",
                                        "sys_platform": "linux", "platform_system": "Linux",
                                        "os_name": "posix", "implementation_name": "cpython",
                                        "platform_python_implementation": "CPython", "extra": ""}):
                return None
        except Exception:  # noqa: BLE001 - an exotic marker: keep the requirement
            pass
    if TOOLING.match(req.name):
        return None
    return line


def _python_choice(root: Path, meta: dict[str, Any], notes: list[str], available: tuple[str, ...]) -> str:
    spec_text = meta.get("requires_python") or ""
    try:
        spec = SpecifierSet(spec_text) if spec_text else SpecifierSet()
    except InvalidSpecifier:
        spec = SpecifierSet()
    classifier_versions = sorted(
        {tuple(int(x) for x in m.group(1).split(".")) for c in meta.get("classifiers", [])
         if (m := re.match(r"Programming Language :: Python :: (3\.\d+)$", c))}
    )
    tox_versions = sorted({(int(a), int(b)) for a, b in re.findall(
        r"\bpy([23])(\d{1,2})\b", _ini(root / "tox.ini").get("tox", "envlist", fallback=""))})
    candidates = [p for p in available if spec.contains(f"{p}.0", prereleases=True)] or list(available)
    choice = candidates[0]
    newest_declared = (classifier_versions or tox_versions or [None])[-1]
    if newest_declared and not spec_text:
        newest = newest_declared
        if newest < (3, 10) and "3.9" in candidates:
            choice = "3.9"
    notes.append(f"python {choice}: requires-python {spec_text or '(none)'}"
                 + (f", classifiers up to {'.'.join(map(str, classifier_versions[-1]))}"
                    if classifier_versions else ""))
    return choice


def _setup_py_meta(path: Path) -> dict[str, Any]:
    """Literal keyword arguments of the setup() call (module-level names resolved when literal)."""
    try:
        tree = ast.parse(path.read_text(errors="replace"))
    except (SyntaxError, ValueError):
        return {}
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            with contextlib.suppress(ValueError, SyntaxError, TypeError):
                names[node.targets[0].id] = ast.literal_eval(node.value)
    out: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "setup":
            for kw in node.keywords:
                if kw.arg is None:
                    continue
                value: Any = None
                if isinstance(kw.value, ast.Name):
                    value = names.get(kw.value.id)
                else:
                    try:
                        value = ast.literal_eval(kw.value)
                    except (ValueError, SyntaxError, TypeError):
                        value = None
                if value is not None:
                    out[kw.arg] = value
    return out


def _split_reqs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v for v in value.splitlines() if v.strip()]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def _poetry_deps(table: dict[str, Any]) -> list[str]:
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


def _group_reqs(groups: dict[str, Any], name: str, seen: set[str] | None = None) -> list[str]:
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
            out.extend(_group_reqs(groups, item["include-group"], seen))
    return out


def _pip_install_args(command: str, root: Path) -> tuple[list[str], list[str], list[str]]:
    """Requirements, requirement files and extras named by `pip install ...` lines of a script."""
    reqs: list[str] = []
    files: list[str] = []
    extras: list[str] = []
    for m in re.finditer(r"(?:pip3?|uv pip|python -m pip|pip install)\s+install\s+([^\n&|;]+)", command):
        tokens = m.group(1).replace("\\\n", " ").split()
        i = 0
        while i < len(tokens):
            tok = tokens[i].strip("'\"")
            if tok in ("-r", "--requirement", "-c", "--constraint") and i + 1 < len(tokens):
                target = tokens[i + 1].strip("'\"")
                if tok in ("-r", "--requirement") and (root / target).is_file():
                    files.append(target)
                i += 2
                continue
            if tok.startswith("-"):
                i += 1
                continue
            em = re.match(r"^\.?\[([^\]]+)\]$", tok) or re.match(r"^\.\[([^\]]+)\]$", tok)
            if em:
                extras.extend(e.strip() for e in em.group(1).split(","))
            elif "${{" not in tok and "$" not in tok and (req := clean_requirement(tok)):
                reqs.append(req)
            i += 1
    return reqs, files, extras


def detect(root: Path, available_pythons: tuple[str, ...] = PYTHONS) -> Recipe:
    r = Recipe()
    notes = r.notes
    pyproject = _read_toml(root / "pyproject.toml")
    project = pyproject.get("project", {})
    tool = pyproject.get("tool", {})
    setup_cfg = _ini(root / "setup.cfg")
    setup_py = _setup_py_meta(root / "setup.py") if (root / "setup.py").exists() else {}

    # ---- identity and Python version
    meta: dict[str, Any] = {"classifiers": list(project.get("classifiers", []))}
    r.name = str(project.get("name") or tool.get("poetry", {}).get("name") or "")
    if not r.name and setup_cfg.has_option("metadata", "name"):
        r.name = setup_cfg.get("metadata", "name")
    if not r.name and isinstance(setup_py.get("name"), str):
        r.name = setup_py["name"]
    meta["requires_python"] = project.get("requires-python") or (
        setup_cfg.get("options", "python_requires", fallback=None)) or setup_py.get("python_requires")
    poetry_py = tool.get("poetry", {}).get("dependencies", {}).get("python")
    if not meta["requires_python"] and isinstance(poetry_py, str) and re.match(r"^[\^~]?\d", poetry_py):
        meta["requires_python"] = ">=" + poetry_py.lstrip("^~").split(",")[0]
    if setup_cfg.has_option("metadata", "classifiers"):
        meta["classifiers"] += _split_reqs(setup_cfg.get("metadata", "classifiers"))
    meta["classifiers"] += [c for c in setup_py.get("classifiers", []) if isinstance(c, str)]
    r.python = _python_choice(root, meta, notes, available_pythons)

    deps: list[str] = []

    def add(reqs: list[str], where: str) -> None:
        kept = [c for x in reqs if (c := clean_requirement(x))]
        if kept:
            deps.extend(kept)
            notes.append(f"{len(kept)} requirement(s) from {where}")

    # ---- runtime dependencies (static ones go into the shared dependency layer)
    add(list(project.get("dependencies", [])), "pyproject [project].dependencies")
    if setup_cfg.has_option("options", "install_requires"):
        add(_split_reqs(setup_cfg.get("options", "install_requires")), "setup.cfg install_requires")
    add(_split_reqs(setup_py.get("install_requires")), "setup.py install_requires")
    add(_poetry_deps(tool.get("poetry", {}).get("dependencies", {})), "poetry dependencies")

    # ---- extras that look like test extras
    declared: dict[str, list[str]] = dict(project.get("optional-dependencies", {}))
    if setup_cfg.has_section("options.extras_require"):
        for k, v in setup_cfg.items("options.extras_require"):
            declared.setdefault(k, _split_reqs(v))
    if isinstance(setup_py.get("extras_require"), dict):
        for k, v in setup_py["extras_require"].items():
            declared.setdefault(str(k), _split_reqs(v))
    for k, v in tool.get("poetry", {}).get("extras", {}).items():
        declared.setdefault(k, list(v))
    test_like = [e for e in declared if re.sub(r"[_.]", "-", e.lower()) in TEST_EXTRAS]
    r.extras = sorted(test_like, key=lambda e: TEST_EXTRAS.index(re.sub(r"[_.]", "-", e.lower())))
    for e in r.extras:
        add(_split_reqs(declared[e]), f"extra [{e}]")
    # tests_require
    if setup_cfg.has_option("options", "tests_require"):
        add(_split_reqs(setup_cfg.get("options", "tests_require")), "setup.cfg tests_require")
    add(_split_reqs(setup_py.get("tests_require")), "setup.py tests_require")

    # ---- dependency groups: PEP 735, Poetry, PDM, Hatch, uv
    groups = pyproject.get("dependency-groups", {})
    for g in groups:
        if g.lower() in TEST_GROUPS:
            add(_group_reqs(groups, g), f"dependency-group {g}")
    for g, table in tool.get("poetry", {}).get("group", {}).items():
        if g.lower() in TEST_GROUPS:
            add(_poetry_deps(table.get("dependencies", {})), f"poetry group {g}")
    add(_poetry_deps(tool.get("poetry", {}).get("dev-dependencies", {})), "poetry dev-dependencies")
    for g, reqs in tool.get("pdm", {}).get("dev-dependencies", {}).items():
        if g.lower() in TEST_GROUPS:
            add(list(reqs), f"pdm dev-dependencies {g}")
    for env_name, env in tool.get("hatch", {}).get("envs", {}).items():
        if env_name in ("default", "test", "tests", "testing", "hatch-test", "dev") and isinstance(env, dict):
            add(list(env.get("dependencies", [])) + list(env.get("extra-dependencies", [])),
                f"hatch env {env_name}")
    add(list(tool.get("uv", {}).get("dev-dependencies", [])), "uv dev-dependencies")

    # ---- requirements files
    req_files: list[str] = []
    for pattern in REQ_FILE_PATTERNS:
        for f in sorted(root.glob(pattern)):
            rel = str(f.relative_to(root))
            if f.is_file() and rel not in req_files and not REQ_FILE_SKIP.search(f.name):
                req_files.append(rel)

    # ---- tox and nox
    tox = _ini(root / "tox.ini")
    for section in tox.sections():
        if section == "testenv" or section.startswith("testenv:") and re.search(r"py|test|unit", section):
            for line in _split_reqs(tox.get(section, "deps", fallback="")):
                line = re.sub(r"^[\w,{}.-]+:\s*", "", line.strip()) if re.match(r"^[\w,{}.-]+:\s", line) else line
                if line.startswith("-r"):
                    f = line[2:].strip().replace("{toxinidir}/", "")
                    if (root / f).is_file() and f not in req_files:
                        req_files.append(f)
                elif "{" not in line:
                    add([line], f"tox [{section}] deps")
            extras = tox.get(section, "extras", fallback="")
            for e in re.split(r"[\s,]+", extras):
                if e and e in declared and e not in r.extras:
                    r.extras.append(e)
                    add(_split_reqs(declared[e]), f"extra [{e}] (tox)")
    noxfile = root / "noxfile.py"
    if noxfile.exists():
        text = noxfile.read_text(errors="replace")
        for call in re.findall(r"session\.install\(([^)]*)\)", text):
            args = re.findall(r"['\"]([^'\"]+)['\"]", call)
            for i, a in enumerate(args):
                if a == "-r" and i + 1 < len(args) and (root / args[i + 1]).is_file():
                    if args[i + 1] not in req_files:
                        req_files.append(args[i + 1])
                elif m := re.match(r"^\.?\[([^\]]+)\]$", a):
                    for e in m.group(1).split(","):
                        if e in declared and e not in r.extras:
                            r.extras.append(e)
                elif not a.startswith("-"):
                    add([a], "noxfile session.install")

    # ---- the maintainers' own CI recipe
    for wf in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        try:
            doc = yaml.safe_load(wf.read_text(errors="replace")) or {}
        except yaml.YAMLError:
            continue
        for job in (doc.get("jobs") or {}).values():
            for step in (job or {}).get("steps", []) or []:
                run = (step or {}).get("run") if isinstance(step, dict) else None
                if not isinstance(run, str) or "install" not in run:
                    continue
                reqs, files, extras = _pip_install_args(run, root)
                add(reqs, f"CI workflow {wf.name}")
                for f in files:
                    if f not in req_files and not REQ_FILE_SKIP.search(Path(f).name):
                        req_files.append(f)
                for e in extras:
                    if e in declared and e not in r.extras:
                        r.extras.append(e)
    r.requirement_files = [f for f in req_files if _wanted_requirement_file(f, r.python)]
    if req_files:
        notes.append(f"requirement files: {', '.join(req_files)}")
    if r.extras:
        notes.append(f"extras: {', '.join(r.extras)}")

    # ---- nose-style suites need a pytest that still runs them
    pins = ["pytest<8"] if any(re.match(r"^nose\b", d, re.I) for d in deps) else ["pytest"]
    deps = pins + [d for d in deps if not re.match(r"^pytest\s*([<>=!~].*)?$", d)] + [
        d for d in deps if re.match(r"^pytest\s*[<>=!~]", d)]
    # de-duplicate, keeping the first spelling of each name
    seen: set[str] = set()
    for d in deps:
        key = re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0].lower().replace("_", "-")
        if d.startswith("pytest<8"):
            key = "pytest"
        if key not in seen:
            seen.add(key)
            r.deps.append(d)
    if r.name:
        own = r.name.lower().replace("_", "-")
        r.deps = [d for d in r.deps if re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0].lower().replace("_", "-")
                  != own]

    # ---- an sdist knows its version; a VCS-versioned build in a fresh git repository would not
    pkg_info = root / "PKG-INFO"
    if pkg_info.is_file() and not (root / ".git").exists():
        m = re.search(r"^Version:\s*(\S+)", pkg_info.read_text(errors="replace"), re.M)
        if m:
            r.env["SETUPTOOLS_SCM_PRETEND_VERSION"] = m.group(1)
            notes.append(f"version {m.group(1)} from PKG-INFO (for VCS-versioned builds)")

    # ---- test command
    # --rootdir pins test ids (paths relative to /repo) whatever else the command line holds
    r.test_command = "python -m pytest -p no:cacheprovider --rootdir=/repo"
    has_testpaths = bool(tool.get("pytest", {}).get("ini_options", {}).get("testpaths"))
    for ini_file, section in (("pytest.ini", "pytest"), ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        cp = _ini(root / ini_file)
        if cp.has_option(section, "testpaths"):
            has_testpaths = True
    if has_testpaths:
        notes.append("test paths from the pytest configuration")
    else:
        for candidate in ("tests", "test", "testing", "t"):
            if (root / candidate).is_dir():
                r.test_paths = [candidate]
                break
        else:
            inner = sorted(str(p.relative_to(root)) for p in root.glob("src/*/tests") if p.is_dir())
            inner += sorted(str(p.relative_to(root)) for p in root.glob("*/tests") if p.is_dir()
                            and not p.parent.name.startswith("."))
            r.test_paths = inner[:3]
        if not test_files(root, named_only=True):
            # files in a tests directory that pytest's default name patterns would not collect
            # (unittest suites named tests/test.py and the like): named explicitly, pytest runs them
            r.test_paths = [str(f.relative_to(root)) for f in test_files(root)][:20]
        notes.append(f"test paths: {' '.join(r.test_paths) or '(pytest discovery from the root)'}")
    return r


SKIP_PARTS = {".git", ".tox", ".nox", ".venv", "venv", "node_modules", "build", "dist"}


def test_files(root: Path, named_only: bool = False) -> list[Path]:
    """Test files: ``test_*.py`` / ``*_test.py`` anywhere, or (unless ``named_only``) any module
    in a ``tests``/``test`` directory."""
    found = []
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root).parts
        if any(part in SKIP_PARTS or part.endswith(".egg-info") for part in rel):
            continue
        named = p.name.startswith("test_") or p.name.endswith("_test.py") or p.name == "tests.py"
        in_tests = any(part in ("tests", "test") for part in rel[:-1]) and p.name not in (
            "__init__.py", "conftest.py")
        if named or (in_tests and not named_only):
            found.append(p)
    return found
