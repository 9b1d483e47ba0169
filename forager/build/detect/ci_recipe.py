"""The maintainers' CI as a recipe: the test job of ``.github/workflows`` (the first job with a
``run:`` step calling pytest), its ``run:`` steps before that one as setup commands and that step's
pytest arguments, with ``${{ matrix.* }}`` expanded (Python keys to the chosen Python, others to
their first value). Steps that need secrets, actions other than checkout/setup, and the job's
services are left out and recorded. The builder's second path when the static recipe fails."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PYTEST_LINE = re.compile(r"^\s*(?:python3?(?:\.\d+)?\s+-m\s+)?(?:py\.)?pytest\b(.*)$", re.M)
EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
VALUE_NEXT = ("-n", "-p", "--dist", "--numprocesses", "--junitxml", "--junit-xml", "--basetemp", "--durations",
              "--reruns", "--color", "--html")
PROVIDED_ACTIONS = ("actions/checkout", "actions/setup-python", "actions/cache", "astral-sh/setup-uv")
DROPPED_ARGS = re.compile(r"^(--cov|--junit|--html|--benchmark|--numprocesses|-n$|--dist|--durations|--color|"
                          r"--reruns|-p$|--basetemp)")


@dataclass
class CiRecipe:
    workflow: str
    job: str
    setup: list[str] = field(default_factory=list)
    pytest_args: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _matrix_value(matrix: dict[str, Any], key: str, python: str) -> str | None:
    if "python" in key.lower() or key.lower() in ("py", "pyver"):
        return python
    value = matrix.get(key)
    if isinstance(value, list) and value:
        value = value[0]
    return None if value is None or isinstance(value, dict | list) else str(value)


def _expand(text: str, matrix: dict[str, Any], env: dict[str, Any], python: str) -> str | None:
    """``text`` with its expressions replaced; None when one cannot be known (secrets, outputs)."""
    unknown = False

    def sub(m: re.Match[str]) -> str:
        nonlocal unknown
        expr = m.group(1)
        if expr.startswith("matrix."):
            value = _matrix_value(matrix, expr.removeprefix("matrix."), python)
        elif expr.startswith("env.") and isinstance(env.get(expr[4:]), str | int | float):
            value = str(env[expr[4:]])
        elif expr in ("github.workspace", "runner.temp"):
            value = "/repo" if expr == "github.workspace" else "/tmp"
        else:
            value = None
        unknown |= value is None
        return value or ""

    out = EXPR.sub(sub, text)
    return None if unknown else out


def _shell_vars(line: str, env: dict[str, Any]) -> str:
    """Shell variables of the pytest line replaced by the workflow's, job's and step's ``env``
    (pint's ``pytest $TEST_OPTS``), unknown ones by nothing: none reaches pytest as a literal."""
    def sub(m: re.Match[str]) -> str:
        value = env.get(m.group(1) or m.group(2))
        return str(value) if isinstance(value, str | int | float) else ""

    return re.sub(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)", sub, line)


def _pytest_args(line: str) -> list[str]:
    """The CI's pytest arguments, less reporting, coverage and parallelism options (and their values)."""
    try:
        tokens = shlex.split(line)
    except ValueError:
        return []
    out, skip = [], False
    for tok in tokens:
        if tok in ("&&", "||", "|", ";"):
            break
        if skip:
            skip = False
        elif DROPPED_ARGS.match(tok):
            skip = tok in VALUE_NEXT
        else:
            out.append(tok)
    return out


def _job_recipe(wf: str, name: str, job: dict[str, Any], env: dict[str, Any], python: str) -> CiRecipe | None:
    matrix = ((job.get("strategy") or {}).get("matrix") or {}) if isinstance(job.get("strategy"), dict) else {}
    env = {**env, **(job.get("env") or {})}
    recipe = CiRecipe(wf, name)
    if job.get("services"):
        recipe.skipped.append(f"services {', '.join(job['services'])}: not started")
    for i, step in enumerate(job.get("steps") or []):
        if not isinstance(step, dict):
            continue
        label = str(step.get("name") or step.get("uses") or f"step {i + 1}")
        if uses := step.get("uses"):
            if not str(uses).startswith(PROVIDED_ACTIONS):
                recipe.skipped.append(f"{label}: action {uses}")
            continue
        run = step.get("run")
        if not isinstance(run, str):
            continue
        if "secrets." in run or any("secrets." in str(v) for v in (step.get("env") or {}).values()):
            recipe.skipped.append(f"{label}: needs secrets")
            continue
        text = _expand(run, matrix if isinstance(matrix, dict) else {}, {**env, **(step.get("env") or {})}, python)
        if text is None:
            recipe.skipped.append(f"{label}: an expression that cannot be known here")
            continue
        if m := PYTEST_LINE.search(text):
            recipe.pytest_args = _pytest_args(_shell_vars(m.group(1), {**env, **(step.get("env") or {})}))
            return recipe
        recipe.setup.append(re.sub(r"(^|\n)\s*sudo\s+", r"\1", text).strip())
    return None


def ci_recipe(root: Path, python: str) -> CiRecipe | None:
    """The first workflow job whose ``run:`` steps call pytest, as a recipe; None without one."""
    for wf in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        try:
            doc = yaml.safe_load(wf.read_text(errors="replace")) or {}
        except yaml.YAMLError:
            continue
        if not isinstance(doc, dict):
            continue
        for name, job in (doc.get("jobs") or {}).items():
            if isinstance(job, dict) and (found := _job_recipe(wf.name, str(name), job, doc.get("env") or {}, python)):
                return found
    return None
