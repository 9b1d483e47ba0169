"""End-to-end builds of the long tail's failure kinds, on fixture repositories written here:
a test helper package inside the tests folder (local first), a conftest that uses a pytest
internal the newest pytest removed (setup errors of every test -> pytest step-down), a hanging
test (left out after a short first run, named in the recipe) and a suite that needs ``::1``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from forager.build.builder import build
from forager.config import reset_settings

pytestmark = pytest.mark.docker

CONFTEST = '''import pytest


@pytest.fixture(autouse=True)
def _uses_a_removed_internal(request):
    if int(pytest.__version__.split(".")[0]) >= 9:  # stands for an API the newest pytest removed
        raise AttributeError("'Config' object has no attribute 'inicfg'")
    yield
'''
TESTS = '''import socket
import time

import fakes
from longtail import one


def test_one():
    assert one() == fakes.ONE


def test_two():
    assert one() + fakes.ONE == 2


def test_ipv6_loopback():
    s = socket.socket(socket.AF_INET6)
    s.bind(("::1", 0))
    s.close()


def test_waits_for_the_network():
    time.sleep(10_000)
'''


def longtail_repo(root: Path) -> Path:
    (root / "longtail").mkdir(parents=True)
    (root / "longtail" / "__init__.py").write_text("def one():\n    return 1\n")
    (root / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=61"]\n'
                                         'build-backend = "setuptools.build_meta"\n'
                                         '[project]\nname = "longtail"\nversion = "0.1"\n'
                                         '[tool.setuptools]\npackages = ["longtail"]\n')
    (root / "tests" / "support" / "fakes").mkdir(parents=True)
    (root / "tests" / "support" / "fakes" / "__init__.py").write_text("ONE = 1\n")
    (root / "tests" / "conftest.py").write_text(CONFTEST)
    (root / "tests" / "test_longtail.py").write_text(TESTS)
    return root


def test_long_tail_repository_validates(runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FORAGER_FIRST_RUN_TEST_TIMEOUT_S", "4")
    reset_settings()
    r = build(str(longtail_repo(tmp_path / "r")))
    assert r.status == "validated", r.error
    recipe = r.install
    hung = "tests/test_longtail.py::test_waits_for_the_network"
    assert recipe["hanging"] == [hung] and f"--deselect={hung}" in r.test_command
    assert recipe["env"]["PYTHONPATH"] == "/repo/tests/support"
    installed = [x["value"] for x in recipe["repairs"] if x["fix"] == "install"]
    assert "fakes" not in installed and "pytest<9" in installed, recipe["repairs"]
    assert r.tests["passed"] == 3 and r.tests["failed"] == 0 and r.tests["error"] == 0


def test_summary_and_dockerfile_rebuild_the_image_without_forager(runtime, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import uuid

    from rich.console import Console

    from forager.build.catalogue import show_image
    from forager.build.dockerfile import dockerfile
    from forager.build.summary import log_path, summary_table

    monkeypatch.setenv("FORAGER_FIRST_RUN_TEST_TIMEOUT_S", "4")
    reset_settings()
    repo = longtail_repo(tmp_path / "r")
    r = build(str(repo))
    assert r.status == "validated", r.error
    console = Console(width=200, record=True)
    console.print(summary_table(r.summary()))
    text = console.export_text()
    assert "validated" in text and "3 passed, 0 failed" in text and str(log_path(r.build_id)) in text
    assert "suite" in text and "(3 of 4 found)" in text and "1 hanging test(s)" in text
    assert "leave out hanging tests" in log_path(r.build_id).read_text()
    info = show_image(r.image or "")
    assert info is not None and info["tests"]["suite_share_pct"] == 75
    # the Dockerfile, on the local base (no registry here), rebuilds an image whose tests pass
    from forager.config import get_settings

    ca = get_settings().resolved_ca_bundle()  # this machine reaches the index through its CA bundle
    (repo / "ca.pem").write_bytes(ca.read_bytes() if ca else b"")
    text = dockerfile(info).replace("FROM python:3.11-slim", "FROM forager/base:3.11\nCOPY ca.pem /tmp/forager-ca.pem")
    (repo / "Dockerfile.forager").write_text(text)
    tag = f"forager-test/dockerfile:{uuid.uuid4().hex[:8]}"
    try:
        done = subprocess.run(["docker", "build", "-q", "-f", "Dockerfile.forager", "-t", tag, "."], cwd=repo,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        ran = subprocess.run(["docker", "run", "--rm", "--network", "none", "--sysctl",
                              "net.ipv6.conf.lo.disable_ipv6=0", tag], capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0 and "3 passed" in ran.stdout, ran.stdout[-3000:]
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)


def commit_dated(repo: Path, date: str) -> None:
    """``repo`` made a git repository of one commit, authored and committed at ``date``."""
    env = {**os.environ, "GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "dated"]):
        subprocess.run(cmd, cwd=repo, env=env, check=True)


def test_past_commit_builds_with_the_tools_of_its_time_and_its_lock(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A commit of 2023-06-01 resolves what the index held then (pytest 7.3.1, not today's) and
    installs the versions its uv.lock pins (iniconfig 1.1.1, older than that date's 2.0.0). Its
    test module imports pkg_resources, which the 3.11 base's setuptools (82+) lacks: the repair
    installs setuptools<82 (as of the commit's date), not "setuptools", which changed nothing."""

    repo = tmp_path / "past"
    (repo / "past").mkdir(parents=True)
    (repo / "past" / "__init__.py").write_text("")
    (repo / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=61"]\n'
                                         'build-backend = "setuptools.build_meta"\n'
                                         '[project]\nname = "past"\nversion = "0.1"\n')
    (repo / "uv.lock").write_text('version = 1\n[[package]]\nname = "iniconfig"\nversion = "1.1.1"\n'
                                  'source = { registry = "https://pypi.org/simple" }\n')
    (repo / "tests").mkdir()
    (repo / "tests" / "test_past.py").write_text(
        "import importlib.metadata as m\n\nimport pkg_resources  # noqa: F401\nimport pytest\n\n\n"
        "def test_pytest_of_its_time():\n"
        "    assert pytest.__version__ == '7.3.1'\n\n\ndef test_locked():\n"
        "    assert m.version('iniconfig') == '1.1.1'\n")
    commit_dated(repo, "2023-06-01T12:00:00Z")
    r = build(str(repo))
    assert r.status == "validated", r.error
    assert r.install["resolution"] == {"lock": "uv.lock", "as_of": "2023-06-01T12:00:00Z", "path": "lock"}
    assert r.tests["passed"] == 2


def test_a_2022_commit_gets_the_python_of_its_time(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A commit of 2022-03-01 (requires-python >=3.7: 3.11 allowed but not out yet) builds on the
    3.9 base (bullseye, bootstrapped on first use)."""

    repo = tmp_path / "old"
    (repo / "old").mkdir(parents=True)
    (repo / "old" / "__init__.py").write_text("")
    (repo / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=61"]\n'
                                         'build-backend = "setuptools.build_meta"\n'
                                         '[project]\nname = "old"\nversion = "0.1"\nrequires-python = ">=3.7"\n')
    (repo / "tests").mkdir()
    (repo / "tests" / "test_old.py").write_text(
        "import sys\n\n\ndef test_python_of_its_time():\n"
        "    assert sys.version_info[:2] == (3, 9)\n\n\ndef test_another():\n    assert True\n")
    commit_dated(repo, "2022-03-01T12:00:00Z")
    r = build(str(repo))
    assert r.status == "validated", r.error
    assert r.python == "3.9"
    assert r.tests["passed"] == 2
    assert "commit of 2022-03-01" in " ".join(r.install["notes"])


SPEED_C = """#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *twice(PyObject *self, PyObject *arg) { return PyNumber_Add(arg, arg); }
static PyMethodDef methods[] = {{"twice", twice, METH_O, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&mod); }
"""


def test_compiled_extension_gets_the_toolchain_layer_and_tests_get_their_tools(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "fastthing"
    (repo / "fastthing").mkdir(parents=True)
    (repo / "fastthing" / "__init__.py").write_text("")
    (repo / "src").mkdir()
    (repo / "src" / "speed.c").write_text(SPEED_C)
    (repo / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=61"]\n'
                                         'build-backend = "setuptools.build_meta"\n'
                                         '[project]\nname = "fastthing"\nversion = "0.1"\n'
                                         '[tool.setuptools]\npackages = ["fastthing"]\n')
    (repo / "setup.py").write_text('from setuptools import Extension, setup\n'
                                   'setup(ext_modules=[Extension("fastthing._speed", ["src/speed.c"])])\n')
    (repo / "tests").mkdir()
    (repo / "tests" / "test_fast.py").write_text(
        "import subprocess\n\nfrom fastthing import _speed\n\n\ndef test_compiled():\n"
        "    assert _speed.twice(21) == 42\n\n\ndef test_pager():\n"
        "    assert subprocess.run(['less', '--version'], capture_output=True).returncode == 0\n")
    r = build(str(repo))
    assert r.status == "validated", r.error
    assert r.install["toolchain"] == "setup.py builds extension modules"
    assert {"fix": "apt", "value": "less"}.items() <= next(x for x in r.install["repairs"] if x["fix"] == "apt").items()
    assert r.tests["passed"] == 2
    deps = next(n.split()[2] for n in r.install["notes"] if n.startswith("dependency layer "))
    assert runtime.image_labels(deps)["forager.base"].startswith("forager/toolchain:3.11-")  # only such projects


def test_ci_path_builds_what_the_static_recipe_cannot(runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The tests import a module that a CI step generates: the static recipe fails, the
    maintainers' test job (its setup steps and pytest arguments) validates."""
    repo = tmp_path / "gen"
    (repo / "genpkg").mkdir(parents=True)
    (repo / "genpkg" / "__init__.py").write_text("")
    (repo / "scripts").mkdir()
    (repo / "scripts" / "gen.py").write_text("import sys\nopen('genpkg/_generated.py', 'w')"
                                             ".write(f'MODE = {sys.argv[1]!r}\\n')\n")
    (repo / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=61"]\n'
                                         'build-backend = "setuptools.build_meta"\n'
                                         '[project]\nname = "genpkg"\nversion = "0.1"\n'
                                         '[tool.setuptools]\npackages = ["genpkg"]\n')
    (repo / "tests").mkdir()
    (repo / "tests" / "test_gen.py").write_text("from genpkg._generated import MODE\n\n\n"
                                                "def test_mode():\n    assert MODE == 'full'\n\n\n"
                                                "def test_slow():\n    assert False, 'deselected by the CI'\n")
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "test.yml").write_text(
        "jobs:\n  test:\n    strategy:\n      matrix:\n        python-version: ['3.12']\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - run: python -m pip install -e .\n"
        "      - run: python scripts/gen.py full\n"
        "      - run: echo ${{ secrets.PYPI_TOKEN }}\n"
        "      - run: python -m pytest tests -k 'not slow' --cov=genpkg\n")
    r = build(str(repo))
    assert r.status == "validated", r.error
    assert r.install["ci"] == {"workflow": "test.yml", "job": "test", "skipped": ["step 4: needs secrets"]}
    assert r.tests["passed"] == 1 and r.tests["failed"] == 0
    assert any(n.startswith("static recipe failed") for n in r.install["notes"])


def test_setup_agent_is_the_last_path(runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """No static recipe and no CI validate; the (scripted) model's commands that worked become the
    recipe, a failing one is rolled back. Without a model endpoint nothing changes."""
    from fake_model import FakeModel

    repo = tmp_path / "agentpkg"
    (repo / "agentpkg").mkdir(parents=True)
    (repo / "agentpkg" / "__init__.py").write_text("")
    (repo / "tools").mkdir()
    (repo / "tools" / "make_config.py").write_text("open('agentpkg/_conf.py', 'w').write('VALUE = 7\\n')\n")
    (repo / "README.md").write_text("Before testing, run `python tools/make_config.py`.\n")
    (repo / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=61"]\n'
                                         'build-backend = "setuptools.build_meta"\n'
                                         '[project]\nname = "agentpkg"\nversion = "0.1"\n'
                                         '[tool.setuptools]\npackages = ["agentpkg"]\n')
    (repo / "tests").mkdir()
    (repo / "tests" / "test_conf.py").write_text("from agentpkg._conf import VALUE\n\n\n"
                                                 "def test_value():\n    assert VALUE == 7\n")
    without = build(str(repo))
    assert without.status == "failed" and not without.install["agent"]
    script = [{"content": "", "tool_calls": [("bash", {"command": "python tools/make_config.py"})]},
              {"content": "", "tool_calls": [("bash", {"command": "touch broken && false"})]},
              {"content": "", "tool_calls": [("bash", {"command": "test ! -e broken && python -m pip install -e ."})]},
              {"content": "", "tool_calls": [("done", {})]}]
    with FakeModel(script) as fake:
        monkeypatch.setenv("FORAGER_MODEL_URL", fake.url)
        monkeypatch.setenv("FORAGER_MODEL_NAME", "scripted")
        reset_settings()
        r = build(str(repo))
        asked = fake.requests[0]["body"]["messages"][1]["content"]
    assert "python tools/make_config.py" in asked  # the repository's own README reached the model
    assert r.status == "validated", r.error
    # the third command passes only because the second one's file was rolled back
    assert r.install["agent"] == {"commands": ["python tools/make_config.py",
                                               "test ! -e broken && python -m pip install -e ."],
                                  "rolled_back": ["touch broken && false"], "finished": True}
    assert r.install["setup_commands"] == r.install["agent"]["commands"] and r.tests["passed"] == 1
