"""Lock and constraint files read into pins (no Docker)."""

from __future__ import annotations

import json
from pathlib import Path

from forager.build.detect.locks import lock_pins
from forager.build.detect.pipeline import detect

UV_LOCK = '''version = 1
[[package]]
name = "demo"
version = "0.1"
source = { editable = "." }
[[package]]
name = "iniconfig"
version = "1.1.1"
source = { registry = "https://pypi.org/simple" }
[[package]]
name = "numpy"
version = "1.26.4"
source = { registry = "https://pypi.org/simple" }
resolution-markers = ["python_full_version < '3.12'"]
[[package]]
name = "numpy"
version = "2.1.0"
source = { registry = "https://pypi.org/simple" }
[[package]]
name = "local-helper"
version = "0.0.1"
source = { directory = "helpers" }
'''


def test_uv_lock_pins_index_packages_with_one_version(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text(UV_LOCK)
    assert lock_pins(tmp_path, "demo") == ("uv.lock", ["iniconfig==1.1.1"])


def test_poetry_pdm_pipfile_and_constraints(tmp_path: Path) -> None:
    poetry = tmp_path / "p"
    poetry.mkdir()
    (poetry / "poetry.lock").write_text('[[package]]\nname = "Attrs"\nversion = "21.4.0"\n'
                                        '[[package]]\nname = "mine"\nversion = "1"\n'
                                        '[package.source]\ntype = "git"\nurl = "https://x"\n')
    assert lock_pins(poetry, "x") == ("poetry.lock", ["attrs==21.4.0"])
    pipfile = tmp_path / "f"
    pipfile.mkdir()
    (pipfile / "Pipfile.lock").write_text(json.dumps({"default": {"six": {"version": "==1.16.0"}},
                                                      "develop": {"me": {"path": ".", "editable": True}}}))
    assert lock_pins(pipfile, "x") == ("Pipfile.lock", ["six==1.16.0"])
    cons = tmp_path / "c"
    cons.mkdir()
    (cons / "constraints.txt").write_text("six==1.15.0  # pinned\nattrs>=20\nidna==3.4; python_version<'3'\n")
    assert lock_pins(cons, "x") == ("constraints.txt", ["six==1.15.0"])


def test_recipe_records_the_lock_path(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text(UV_LOCK)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0.1"\n')
    (tmp_path / "test_x.py").write_text("def test_x(): pass\n")
    recipe = detect(tmp_path, ("3.11",))
    assert recipe.constraints == ["iniconfig==1.1.1"] and recipe.resolution == {"lock": "uv.lock"}
    assert recipe.env["PIP_CONSTRAINT"] == "/opt/forager/constraints.txt"
