"""Static detection of Python version, dependencies and test paths (no Docker)."""

from __future__ import annotations

from pathlib import Path

from forager.build.detect.pipeline import detect


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_pyproject_extras_groups_and_python(tmp_path: Path) -> None:
    write(tmp_path, {
        "pyproject.toml": """
[project]
name = "demo"
requires-python = ">=3.12"
dependencies = ["requests>=2", "tomli; python_version < '3.11'"]
[project.optional-dependencies]
tests = ["hypothesis"]
docs = ["sphinx"]
[dependency-groups]
test = ["pytest-mock", {include-group = "lint"}]
lint = ["ruff", "freezegun"]
""",
        "tests/test_x.py": "def test_x(): pass\n",
    })
    r = detect(tmp_path)
    assert r.python == "3.13"  # 3.11 excluded by requires-python
    assert r.extras == ["tests"]
    assert "requests>=2" in r.deps and "hypothesis" in r.deps and "pytest-mock" in r.deps
    assert "freezegun" in r.deps  # through include-group
    assert not any(d.startswith(("tomli", "sphinx", "ruff")) for d in r.deps)  # marker false / tooling
    assert r.test_paths == ["tests"]
    assert r.deps[0] == "pytest"


def test_setup_py_setup_cfg_tox_requirements_and_ci(tmp_path: Path) -> None:
    write(tmp_path, {
        "setup.py": "from setuptools import setup\nTESTS = ['mock', 'nose']\n"
                    "setup(name='old', tests_require=TESTS, extras_require={'testing': ['pyyaml']},\n"
                    "      classifiers=['Programming Language :: Python :: 3.8'])\n",
        "setup.cfg": "[options]\ninstall_requires =\n    six\n",
        "tox.ini": "[testenv]\ndeps =\n    pytest-cov\n    py38: backports.zoneinfo\n    -rrequirements-extra.txt\n",
        "requirements-test.txt": "responses\n",
        "requirements-extra.txt": "attrs\n",
        "requirements-docs.txt": "sphinx\n",
        ".github/workflows/ci.yml": "jobs:\n  t:\n    steps:\n      - run: pip install -e .[testing] "
                                    "freezegun\n      - run: pytest\n",
        "test/test_a.py": "def test_a(): pass\n",
    })
    r = detect(tmp_path)
    assert r.python == "3.9"  # classifiers stop at 3.8, no requires-python
    for dep in ("mock", "six", "pyyaml", "pytest-cov", "freezegun"):
        assert any(d.startswith(dep) for d in r.deps), dep
    assert r.deps[0] == "pytest<8"  # nose-style suites need pytest < 8
    assert "requirements-test.txt" in r.requirement_files
    assert "requirements-extra.txt" in r.requirement_files
    assert "requirements-docs.txt" not in r.requirement_files
    assert r.extras == ["testing"]
    assert r.test_paths == ["test"]


def test_testpaths_config_means_plain_pytest(tmp_path: Path) -> None:
    write(tmp_path, {"pytest.ini": "[pytest]\ntestpaths = src\n", "tests/test_x.py": ""})
    assert detect(tmp_path).test_paths == []


def test_requirement_files_for_other_pythons_and_docs_are_left_out(tmp_path: Path) -> None:
    write(tmp_path, {
        "requirements/3.3/requirements-dev.txt": "pytest<3.3\n",
        "requirements/py311.txt": "attrs\n",
        "docs/requirements-docs.txt": "sphinx\n",
        "requirements-dev.txt": "freezegun\n",
        "tox.ini": "[testenv]\ndeps = -rdocs/requirements-docs.txt\n",
        "tests/test_x.py": "",
    })
    files = detect(tmp_path).requirement_files
    assert "requirements-dev.txt" in files and "requirements/py311.txt" in files
    assert not any("3.3" in f or "docs" in f for f in files)


def test_tox_envlist_of_old_pythons_picks_the_oldest_base(tmp_path: Path) -> None:
    write(tmp_path, {"tox.ini": "[tox]\nenvlist = py27, py36, py38\n", "setup.py": "", "tests/test_x.py": ""})
    assert detect(tmp_path).python == "3.9"
    write(tmp_path, {"tox.ini": "[tox]\nenvlist = py38, py311\n"})
    assert detect(tmp_path).python == "3.11"


def test_sdist_version_is_kept_for_vcs_versioned_builds(tmp_path: Path) -> None:
    write(tmp_path, {"PKG-INFO": "Metadata-Version: 2.1\nName: pluggy\nVersion: 1.5.0\n", "tests/test_x.py": ""})
    assert detect(tmp_path).env["SETUPTOOLS_SCM_PRETEND_VERSION"] == "1.5.0"


def test_unittest_files_outside_pytest_name_patterns_are_named_explicitly(tmp_path: Path) -> None:
    write(tmp_path, {"setup.py": "", "src/decorator.py": "", "src/tests/__init__.py": "",
                     "src/tests/test.py": "import unittest\n", "src/tests/documentation.py": ""})
    assert detect(tmp_path).test_paths == ["src/tests/documentation.py", "src/tests/test.py"]
