"""The project's configuration files, each read once and parsed without running anything:
pyproject.toml, setup.cfg, the literal arguments of setup.py's ``setup()`` call, tox.ini."""

from __future__ import annotations

import ast
import configparser
import contextlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYTEST_INI = (("pytest.ini", "pytest"), ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest"))
"""Where an ini-style pytest configuration can live: (file, section)."""


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(errors="replace"))
    except (tomllib.TOMLDecodeError, OSError):
        return {}


def read_ini(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    with contextlib.suppress(configparser.Error, OSError, UnicodeDecodeError):
        cp.read_string(path.read_text(errors="replace"))
    return cp


def split_reqs(value: Any) -> list[str]:
    """A requirement list as written in any of these files: a multi-line string or a list."""
    if isinstance(value, str):
        return [v for v in value.splitlines() if v.strip()]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


def _literal(node: ast.expr, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return names.get(node.id)
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None


def setup_py_meta(path: Path) -> dict[str, Any]:
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
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", "")) == "setup":
            for kw in call.keywords:
                if kw.arg is not None and (value := _literal(kw.value, names)) is not None:
                    out[kw.arg] = value
    return out


def pytest_option(root: Path, name: str) -> str | None:
    """An option of the ini-style pytest configuration (pytest.ini, tox.ini, setup.cfg), first found."""
    for ini_file, section in PYTEST_INI:
        cp = read_ini(root / ini_file)
        if cp.has_option(section, name):
            return cp.get(section, name)
    return None


@dataclass(frozen=True)
class ProjectFiles:
    root: Path
    pyproject: dict[str, Any]
    setup_cfg: configparser.ConfigParser
    setup_py: dict[str, Any]
    tox: configparser.ConfigParser

    @classmethod
    def read(cls, root: Path) -> ProjectFiles:
        setup_py = setup_py_meta(root / "setup.py") if (root / "setup.py").exists() else {}
        return cls(root, read_toml(root / "pyproject.toml"), read_ini(root / "setup.cfg"), setup_py,
                   read_ini(root / "tox.ini"))

    @property
    def project(self) -> dict[str, Any]:
        return dict(self.pyproject.get("project", {}))

    @property
    def tool(self) -> dict[str, Any]:
        return dict(self.pyproject.get("tool", {}))

    @property
    def poetry(self) -> dict[str, Any]:
        return dict(self.tool.get("poetry", {}))

    def cfg(self, section: str, option: str) -> str | None:
        """An option of setup.cfg, or None."""
        return self.setup_cfg.get(section, option, fallback=None)

    def pytest_ini_options(self) -> dict[str, Any]:
        """``[tool.pytest.ini_options]`` of pyproject.toml."""
        return dict(self.tool.get("pytest", {}).get("ini_options", {}))
