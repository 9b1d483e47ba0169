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
    """The value of a static expression: literals, module-level names already resolved, and lists,
    tuples, sets and dicts of them (``{"tests": tests_require}``, ``[*base, "pytest"]``), lists or
    strings joined with ``+``; None when any part is not static."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        items: list[Any] = []
        for elt in node.elts:
            starred = isinstance(elt, ast.Starred)
            value = _literal(elt.value if isinstance(elt, ast.Starred) else elt, names)
            if value is None or (starred and not isinstance(value, list | tuple)):
                return None
            if starred:
                items.extend(value)
            else:
                items.append(value)
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        for key, val in zip(node.keys, node.values, strict=True):
            value = _literal(val, names)
            if key is None and isinstance(value, dict):
                out.update(value)  # {**other}
                continue
            k = _literal(key, names) if key is not None else None
            if k is None or value is None or not isinstance(k, str | int):
                return None
            out[k] = value
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, names), _literal(node.right, names)
        if isinstance(left, list | tuple) and isinstance(right, list | tuple):
            return [*left, *right]
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None


def setup_py_meta(path: Path) -> dict[str, Any]:
    """Static keyword arguments of the setup() call (module-level names resolved when static:
    ``extras_require = {"tests": tests_require}`` included)."""
    try:
        tree = ast.parse(path.read_text(errors="replace"))
    except (SyntaxError, ValueError):
        return {}
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if (value := _literal(node.value, names)) is not None:
                names[node.targets[0].id] = value
            else:
                names.pop(node.targets[0].id, None)  # re-bound to something not static
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
