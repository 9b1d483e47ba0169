"""A build backend that fetches the license text online (coherent.licensed, jaraco's skeleton:
inflect at HEAD failed every install attempt with 'Name or service not known' on a farm whose build
containers reach only the package index) gets a stand-in LICENSE (no Docker)."""

from __future__ import annotations

from pathlib import Path

from forager.build.dockerfile import dockerfile
from forager.build.repair.license import license_placeholder, needs_license_file

FAILED = ('  File "/tmp/pip-build-env-x/overlay/lib/python3.11/site-packages/coherent/licensed/__init__.py", '
          "line 19, in resolve\n      urllib.error.URLError: <urlopen error [Errno -2] Name or service not known>\n")


def test_a_backend_fetching_the_license_gets_a_stand_in(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\nlicense = "MIT"\n')
    assert needs_license_file(FAILED, tmp_path)
    assert license_placeholder(tmp_path).startswith("SPDX-License-Identifier: MIT\n")
    assert not needs_license_file("error: subprocess-exited-with-error\n", tmp_path)
    (tmp_path / "LICENSE").write_text("MIT License\n")
    assert not needs_license_file(FAILED, tmp_path)  # the tree has one: not this cause


def test_the_dockerfile_writes_the_stand_in_before_the_install() -> None:
    text = dockerfile({"id": "img", "source": "/src", "commit": "abc", "recipe": {
        "python": "3.11", "deps": ["pytest"], "repairs": [{"fix": "license-file", "why": "online"}]}})
    lines = text.splitlines()
    stand_in = next(i for i, ln in enumerate(lines) if "> LICENSE" in ln)
    assert stand_in < next(i for i, ln in enumerate(lines) if ln.endswith("-e ."))
