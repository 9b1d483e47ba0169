"""The repair loop: read why tests fail to collect or run, and fix what is fixable.

Each fix is a small record (install a distribution, add a pytest argument, set an environment
variable, leave out a file that cannot be collected); every applied fix is kept in the recipe.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from forager.build import detect
from forager.build.testrun import TestRun
from forager.config import get_settings
from forager.runtime import ExecResult, Sandbox

# import name -> distribution, where they differ
MODULE_TO_DIST = {
    "yaml": "PyYAML", "attr": "attrs", "PIL": "Pillow", "cv2": "opencv-python-headless",
    "sklearn": "scikit-learn", "skimage": "scikit-image", "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil", "jwt": "PyJWT", "serial": "pyserial", "usb": "pyusb",
    "Crypto": "pycryptodome", "Cryptodome": "pycryptodomex", "OpenSSL": "pyOpenSSL",
    "magic": "python-magic", "dotenv": "python-dotenv", "google.protobuf": "protobuf",
    "zmq": "pyzmq", "git": "GitPython", "multipart": "python-multipart", "docx": "python-docx",
    "pptx": "python-pptx", "pkg_resources": "setuptools", "hamcrest": "PyHamcrest",
    "markdown": "Markdown", "jinja2": "Jinja2", "importlib_metadata": "importlib-metadata",
    "importlib_resources": "importlib-resources", "typing_extensions": "typing-extensions",
    "ruamel": "ruamel.yaml", "lxml": "lxml", "Levenshtein": "python-Levenshtein",
    "slugify": "python-slugify", "jose": "python-jose", "socks": "PySocks", "nacl": "PyNaCl",
    "gi": "PyGObject", "wx": "wxPython", "win32api": "pywin32", "sqlalchemy": "SQLAlchemy",
    "flask": "Flask", "werkzeug": "Werkzeug", "faker": "Faker", "freezegun": "freezegun",
    "mock": "mock", "nose": "nose", "toml": "toml", "tomli": "tomli", "tomli_w": "tomli-w",
    "setuptools_scm": "setuptools-scm", "pytest_asyncio": "pytest-asyncio", "trio": "trio",
    "xdist": "pytest-xdist", "pytest_mock": "pytest-mock", "hypothesis": "hypothesis",
    "testfixtures": "testfixtures", "responses": "responses", "requests_mock": "requests-mock",
    "httpretty": "httpretty", "vcr": "vcrpy", "pyfakefs": "pyfakefs", "dns": "dnspython",
    "Bio": "biopython", "MySQLdb": "mysqlclient", "psycopg2": "psycopg2-binary",
    "editdistance": "editdistance", "simplejson": "simplejson", "ujson": "ujson", "orjson": "orjson",
    "msgpack": "msgpack", "igraph": "python-igraph", "sphinx": "Sphinx", "docutils": "docutils",
    "pygments": "Pygments", "tz": "pytz", "pytz": "pytz", "six": "six", "packaging": "packaging",
    "numpy": "numpy", "pandas": "pandas", "scipy": "scipy", "matplotlib": "matplotlib",
    "typeguard": "typeguard", "pydantic": "pydantic", "click": "click", "rich": "rich",
    "syrupy": "syrupy", "pexpect": "pexpect", "ptyprocess": "ptyprocess", "execnet": "execnet",
    "py": "py", "atomicwrites": "atomicwrites", "sortedcontainers": "sortedcontainers",
    "tornado": "tornado", "twisted": "Twisted", "zope": "zope.interface", "aiohttp": "aiohttp",
    "anyio": "anyio", "sniffio": "sniffio", "httpx": "httpx", "respx": "respx",
    "pytest_httpserver": "pytest-httpserver", "pytest_benchmark": "pytest-benchmark",
    "pytest_lazyfixture": "pytest-lazy-fixture", "pytest_cases": "pytest-cases",
    "parameterized": "parameterized", "ddt": "ddt", "nose2": "nose2", "sure": "sure",
    "expects": "expects", "pytest_subtests": "pytest-subtests", "time_machine": "time-machine",
}
# fixture name -> plugin distribution
FIXTURE_TO_DIST = {
    "mocker": "pytest-mock", "class_mocker": "pytest-mock", "module_mocker": "pytest-mock",
    "session_mocker": "pytest-mock", "benchmark": "pytest-benchmark",
    "httpserver": "pytest-httpserver", "aiohttp_client": "pytest-aiohttp", "aiohttp_server": "pytest-aiohttp",
    "event_loop": "pytest-asyncio", "freezer": "pytest-freezer", "requests_mock": "requests-mock",
    "snapshot": "syrupy", "datadir": "pytest-datadir", "shared_datadir": "pytest-datadir",
    "httpx_mock": "pytest-httpx", "respx_mock": "respx", "subtests": "pytest-subtests", "fs": "pyfakefs",
    "loop": "pytest-aiohttp", "time_machine": "time-machine", "capture_logs": "structlog",
    "xprocess": "pytest-xprocess", "celery_app": "celery", "django_db_setup": "pytest-django",
    "db": "pytest-django", "client": "pytest-django", "rf": "pytest-django", "settings": "pytest-django",
    "nursery": "pytest-trio", "autojump_clock": "pytest-trio", "anyio_backend": "anyio",
    "mock_env": "pytest-mock-resources", "vcr": "pytest-recording", "vcr_cassette": "pytest-vcr",
    "lazy_fixture": "pytest-lazy-fixture", "faker": "Faker", "caplog_json": "pytest-structlog",
    "monkeysession": "pytest-monkeysession", "tmp_file": "pytest-tmp-files", "socket_enabled": "pytest-socket",
    "local_server": "pytest-localserver", "httpbin": "pytest-httpbin", "testdir": "pytest<8",
}
# command-line option prefix -> plugin distribution
OPTION_TO_DIST = {
    "--cov": "pytest-cov", "--no-cov": "pytest-cov", "--timeout": "pytest-timeout",
    "-n": "pytest-xdist", "--numprocesses": "pytest-xdist", "--dist": "pytest-xdist",
    "--benchmark": "pytest-benchmark", "--reruns": "pytest-rerunfailures", "--only-rerun": "pytest-rerunfailures",
    "--randomly": "pytest-randomly", "-p randomly": "pytest-randomly", "--asyncio-mode": "pytest-asyncio",
    "--snapshot": "syrupy", "--html": "pytest-html", "--self-contained-html": "pytest-html",
    "--hypothesis": "hypothesis", "--doctest-plus": "pytest-doctestplus", "--doctest-rst": "pytest-doctestplus",
    "--remote-data": "pytest-remotedata", "--mpl": "pytest-mpl", "--memray": "pytest-memray",
    "--record-mode": "pytest-recording", "--block-network": "pytest-recording",
    "--disable-socket": "pytest-socket", "--allow-hosts": "pytest-socket", "--force-sugar": "pytest-sugar",
    "--instafail": "pytest-instafail", "--durations-min": "pytest>=7", "--color": "pytest",
    "--ds": "pytest-django", "--reuse-db": "pytest-django", "--nomigrations": "pytest-django",
    "--env": "pytest-env", "--testmon": "pytest-testmon", "--mypy": None, "--flake8": None,
    "--black": None, "--isort": None, "--pylint": None, "--pycodestyle": None, "--ruff": None,
    "--pep8": None, "--codestyle": None, "--doctest-cython": None, "--typeguard-packages": "typeguard",
}
MARKER_TO_DIST = {
    "asyncio": "pytest-asyncio", "trio": "pytest-trio", "anyio": "anyio", "benchmark": "pytest-benchmark",
    "django_db": "pytest-django", "timeout": "pytest-timeout", "flaky": "flaky", "vcr": "pytest-recording",
    "freeze_time": "pytest-freezer", "httpx_mock": "pytest-httpx", "mpl_image_compare": "pytest-mpl",
    "remote_data": "pytest-remotedata", "order": "pytest-order", "dependency": "pytest-dependency",
    "repeat": "pytest-repeat", "forked": "pytest-forked", "lazy_fixture": "pytest-lazy-fixture",
}
INI_TO_DIST = {"asyncio_mode": "pytest-asyncio", "timeout": "pytest-timeout", "env": "pytest-env",
               "DJANGO_SETTINGS_MODULE": "pytest-django", "mock_use_standalone_module": "pytest-mock",
               "flake8-max-line-length": None, "mypy": None, "asyncio_default_fixture_loop_scope":
               "pytest-asyncio>=0.24", "xfail_strict": None, "required_plugins": None}


@dataclass(frozen=True)
class Fix:
    kind: str  # install | arg | env | ignore
    value: str
    why: str

    def describe(self) -> str:
        return f"{self.kind} {self.value} ({self.why})"


def dist_for_module(module: str) -> str:
    top = module.split(".")[0]
    return MODULE_TO_DIST.get(module) or MODULE_TO_DIST.get(top) or top.replace("_", "-")


def _is_local(root: Path, module: str) -> bool:
    top = module.split(".")[0]
    for base in (root, root / "src", root / "tests", root / "test", root / "lib"):
        if (base / top).is_dir() or (base / f"{top}.py").exists():
            return True
    return False


def _addopts(root: Path) -> str:
    pyproject = detect._read_toml(root / "pyproject.toml")
    value = pyproject.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("addopts")
    if value is not None:
        return " ".join(value) if isinstance(value, list) else str(value)
    for ini_file, section in (("pytest.ini", "pytest"), ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        cp = detect._ini(root / ini_file)
        if cp.has_option(section, "addopts"):
            return cp.get(section, "addopts").replace("\n", " ")
    return ""


PY2_STDLIB = {"UserDict", "StringIO", "cStringIO", "urllib2", "urlparse", "ConfigParser", "Queue",
              "__builtin__", "cPickle", "httplib", "HTMLParser", "thread", "commands", "exceptions", "sets",
              "md5", "sha", "copy_reg", "Tkinter", "cookielib", "SocketServer", "xmlrpclib", "htmlentitydefs",
              "repr", "dummy_thread", "UserList", "UserString", "future_builtins", "imp", "asynchat", "asyncore"}


def _last_frame(output: str) -> str:
    frames = re.findall(r'^\s*File "([^"]+)"', output, re.M)
    return frames[-1] if frames else ""


def _pytest_broken(output: str) -> bool:
    """pytest fails to import or start (e.g. an old pin on a new Python)."""
    last_line = output.strip().splitlines()[-1] if output.strip() else ""
    return (output.lstrip().startswith("Traceback")
            and re.search(r"site-packages/_?pytest", _last_frame(output)) is not None
            and re.match(r"(ImportError|ModuleNotFoundError|SyntaxError|AttributeError|TypeError)", last_line)
            is not None)


TOO_NEW = re.compile(
    r"PluginValidationError|has no attribute '(yield_fixture|funcargnames|_fillfuncargs|getfuncargvalue)'"
    r"|unexpected keyword argument '(path|fspath)'|pytest\.warns\(None\)|Direct construction of \w+ has"
    r"|no attribute 'from_parent'|'startdir'|py\.path|Unknown hook specification|TestReport\.fspath")


def _pytest_too_new(output: str) -> bool:
    return bool(TOO_NEW.search(output))


def _start_up_fixes(output: str) -> list[Fix]:
    """pytest itself cannot start or load the suite: fixed before anything else."""
    if _pytest_too_new(output):
        return [Fix("pytest-downgrade", "", "the suite uses pytest APIs that the installed pytest removed")]
    if "site-packages/pytest_cov/" in output and output.lstrip().startswith("Traceback"):
        return [Fix("arg", "--no-cov", "the coverage plugin fails at start-up; coverage is not needed")]
    if _pytest_broken(output):
        # pytest itself does not run on this Python (an old pin): upgrade it first
        return [Fix("install", "pytest>=7", "the installed pytest does not import")]
    return []


def _module_fixes(output: str, root: Path, why: str) -> list[Fix]:
    """Distributions for the modules that ``output`` says are missing (local and Python 2
    modules left out)."""
    fixes = []
    for mod in re.findall(r"No module named '?([\w.]+)'?", output):
        if mod.startswith(("_", "forager_")) or mod.split(".")[0] in PY2_STDLIB or _is_local(root, mod):
            continue
        if mod == "distutils":
            fixes.append(Fix("install", "setuptools", f"{why}: distutils (removed in Python 3.12)"))
            continue
        fixes.append(Fix("install", dist_for_module(mod), f"{why}: no module {mod}"))
    return fixes


def plan_collection(output: str, recipe: detect.Recipe, root: Path) -> list[Fix]:
    fixes: list[Fix] = _start_up_fixes(output) or _module_fixes(output, root, "collection")
    m = re.search(r"error: unrecognized arguments: (.+)", output)
    if m:
        bad = m.group(1).split()
        drop = []
        for arg in bad:
            name = arg.split("=")[0]
            dist = next((d for o, d in OPTION_TO_DIST.items() if name == o or name.startswith(o + "-")), "?")
            if dist and dist != "?":
                fixes.append(Fix("install", dist, f"pytest option {name}"))
            else:
                drop.append(arg)
        if drop:
            opts = shlex.split(_addopts(root))
            kept = [o for o in opts if o not in drop and o.split("=")[0] not in {d.split("=")[0] for d in drop}]
            fixes.append(Fix("arg", f"-o addopts={shlex.quote(' '.join(kept))}",
                             f"options without a plugin: {' '.join(drop)}"))
    for plugin in re.findall(r"Missing required plugins?: (.+)", output):
        for dist in re.split(r",\s*", plugin.strip()):
            fixes.append(Fix("install", dist, "required_plugins"))
    for marker in re.findall(r"'(\w+)' not found in `markers` configuration option", output):
        if dist := MARKER_TO_DIST.get(marker):
            fixes.append(Fix("install", dist, f"marker {marker}"))
    for opt in re.findall(r"Unknown config option: (\w+)", output):
        if dist := INI_TO_DIST.get(opt):
            fixes.append(Fix("install", dist, f"ini option {opt}"))
    if re.search(r"^E\s+\S*(PytestRemovedIn\d+Warning|DeprecationWarning|PytestDeprecationWarning)", output, re.M):
        fixes += _deprecations_allowed()
    fixes = _dedupe(fixes, recipe)
    if not fixes:
        named = re.findall(r"ERROR collecting (\S+\.py)", output) + re.findall(r"^ERROR (\S+\.py)\b", output, re.M)
        failing = [p for p in dict.fromkeys(named) if f"--ignore={p}" not in recipe.pytest_args]
        # first: modules a failing file imports only optionally (try/except ImportError)
        fixes = _dedupe([Fix("imports-of", p, "optional imports of a file that cannot be collected")
                         for p in failing], recipe)
        if not fixes:  # what still cannot be collected is left out, so the rest of the suite runs
            fixes = [Fix("ignore", p, "cannot be collected") for p in failing]
    return fixes


def plan_run(run: TestRun, recipe: detect.Recipe, root: Path) -> list[Fix]:
    text = "\n".join(r.message for r in run.results.values() if r.outcome in ("failed", "error"))
    fixes: list[Fix] = []
    for fixture in set(re.findall(r"fixture '(\w+)' not found", text)):
        if dist := FIXTURE_TO_DIST.get(fixture):
            fixes.append(Fix("install", dist, f"fixture {fixture}"))
    fixes += _module_fixes(text, root, "test run")
    failing = sum(r.outcome in ("failed", "error") for r in run.results.values())
    if _pytest_too_new(text) and failing > 0.05 * max(1, len(run.results)):
        fixes.append(Fix("pytest-downgrade", "", "tests use pytest APIs the installed pytest removed"))
    if "async def functions are not natively supported" in text:
        fixes.append(Fix("install", "pytest-asyncio", "async tests"))
        if "asyncio_mode" not in " ".join(recipe.pytest_args):
            fixes.append(Fix("arg", "-o asyncio_mode=auto", "async tests without markers"))
    if re.search(r"\b(Deprecation|PendingDeprecation)Warning\b", text):
        fixes += _deprecations_allowed()
    return _dedupe(fixes, recipe)


def _deprecations_allowed() -> list[Fix]:
    """Deprecation warnings that the suite's filterwarnings=error turns into failures on a newer
    Python or pytest than it was written for (command-line -W filters win over the ini's)."""
    why = "deprecation warnings turned into errors"
    return [Fix("arg", "-W ignore::DeprecationWarning", why),
            Fix("arg", "-W ignore::PendingDeprecationWarning", why)]


def _dedupe(fixes: list[Fix], recipe: detect.Recipe) -> list[Fix]:
    done = {(r["fix"], r["value"]) for r in recipe.repairs if "value" in r}
    out: list[Fix] = []
    for f in fixes:
        if (f.kind, f.value) not in done and f not in out:
            out.append(f)
    return out


def apply(box: Sandbox, fixes: list[Fix], recipe: detect.Recipe, round_no: int,
          log: Callable[..., None]) -> bool:
    """Apply fixes in the build container; True when anything changed."""
    settings = get_settings()
    changed = False
    installs = [f for f in fixes if f.kind == "install"]
    for f in installs:
        cmd = f"python -m pip install --no-input --progress-bar off {shlex.quote(f.value)}"
        res = box.exec(cmd, settings.install_timeout_s, workdir="/repo", env=recipe.env)
        log(f"repair: install {f.value}", cmd, res, note=f.why)
        recipe.repairs.append({"round": round_no, "fix": "install", "value": f.value, "why": f.why,
                               "ok": res.ok})
        changed |= res.ok
    for f in fixes:
        if f.kind == "imports-of":
            missing = _missing_imports(box, f.value)
            recipe.repairs.append({"round": round_no, "fix": f.kind, "value": f.value, "why": f.why,
                                   "ok": True, "found": missing})
            changed = True  # tried: the next round may leave the file out
            for mod in missing:
                dist = dist_for_module(mod)
                cmd = f"python -m pip install --no-input --progress-bar off {shlex.quote(dist)}"
                res = box.exec(cmd, settings.install_timeout_s, workdir="/repo", env=recipe.env)
                log(f"repair: install {dist}", cmd, res, note=f"imported by {f.value}")
                recipe.repairs.append({"round": round_no, "fix": "install", "value": dist,
                                       "why": f"imported by {f.value}", "ok": res.ok})
                changed |= res.ok
            continue
        if f.kind == "pytest-downgrade":
            res = box.exec("python -c 'import pytest; print(pytest.__version__)'", 60)
            major = int(res.output.strip().split(".")[0]) if res.ok and res.output.strip()[:1].isdigit() else 0
            if major <= 6:
                continue
            cmd = f"python -m pip install --no-input --progress-bar off 'pytest<{major}'"
            res = box.exec(cmd, settings.install_timeout_s, workdir="/repo", env=recipe.env)
            log(f"repair: pytest<{major}", cmd, res, note=f.why)
            recipe.repairs.append({"round": round_no, "fix": "install", "value": f"pytest<{major}",
                                   "why": f.why, "ok": res.ok})
            changed |= res.ok
            continue
        if f.kind == "arg":
            recipe.pytest_args.extend(shlex.split(f.value) if f.value.startswith("-W") else [f.value])
        elif f.kind == "ignore":
            recipe.pytest_args.append(f"--ignore={f.value}")
        elif f.kind == "env":
            key, _, val = f.value.partition("=")
            recipe.env[key] = val
        else:
            continue
        recipe.repairs.append({"round": round_no, "fix": f.kind, "value": f.value, "why": f.why, "ok": True})
        log(f"repair: {f.kind} {f.value}", note=f.why)
        changed = True
    return changed


FIND_MISSING = """
import ast, importlib.util, sys
tree = ast.parse(open(sys.argv[1], encoding="utf-8", errors="replace").read())
mods = set()
for node in ast.walk(tree):
    if isinstance(node, ast.Import):
        mods.update(a.name.split(".")[0] for a in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        mods.add(node.module.split(".")[0])
for m in sorted(mods):
    try:
        if importlib.util.find_spec(m) is None:
            print(m)
    except Exception:
        pass
"""


def _missing_imports(box: Sandbox, path: str) -> list[str]:
    """Top-level modules that a test file imports (anywhere, also inside try blocks) and that are
    not importable in the image."""
    box.put_files({"/tmp/forager-find-missing.py": FIND_MISSING.encode()})
    res = box.exec(f"python /tmp/forager-find-missing.py {shlex.quote(path)}", 60, workdir="/repo")
    if not res.ok:
        return []
    return [m for m in res.output.split() if m.isidentifier() and m not in PY2_STDLIB
            and not m.startswith("_")][:10]


def needs_pretend_version(output: str) -> bool:
    return bool(re.search(r"setuptools[-_]scm was unable to detect version|unable to detect version|"
                          r"LookupError: .*version|hatch-vcs|vcs_versioning", output, re.I))


def pretend_version_env(box: Sandbox) -> dict[str, str]:
    res: ExecResult = box.exec("sed -n 's/^Version: //p' /repo/PKG-INFO 2>/dev/null | head -1", 30)
    version = res.output.strip() or "0.0.0"
    return {"SETUPTOOLS_SCM_PRETEND_VERSION": version}
