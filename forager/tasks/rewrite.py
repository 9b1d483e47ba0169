"""Model-rewrite candidates: the model rewrites a tested function from its signature and docstring
(through the shared model client); the rewrite is the task state when the tests catch it."""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterator

from forager.enums import TaskKind
from forager.model import Model, ModelError
from forager.tasks.baseline import SourceFunction
from forager.tasks.candidates import Candidate, _swap, rank_functions
from forager.tasks.errors import TaskError
from forager.tasks.mutations import unified_patch
from forager.tasks.mutations.functions import FuncNode, first_line, has_docstring, iter_functions

MAX_FAILURES = 3
"""Consecutive model failures that end the run (a dead endpoint costs seconds, not the budget)."""
PROMPT = (
    "Implement the Python function below from its signature and docstring alone. Answer with its "
    "complete definition (decorators, the same def line, then the body) in one ```python code "
    "block and nothing else.\n\nFile: {path}\n\n```python\n{header}\n```")
_BLOCK = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.S)


def _node(tree: ast.Module, qualname: str) -> FuncNode | None:
    return next((n for q, n in iter_functions(tree) if q == qualname), None)


def header(source: str, node: FuncNode) -> str:
    """Decorators, the def line(s) and the docstring of a function, dedented."""
    lines = source.splitlines(True)
    end = node.body[0].end_lineno if has_docstring(node) else node.body[0].lineno - 1
    text = "".join(lines[first_line(node) - 1:end or node.lineno])
    return textwrap.dedent(text).rstrip() + ("\n    ..." if not has_docstring(node) else "")


def splice(source: str, qualname: str, answer: str) -> str | None:
    """``source`` with ``qualname`` replaced by the definition in the model's answer; None when the
    answer has none, does not parse or changes nothing."""
    tree = ast.parse(source)
    node = _node(tree, qualname)
    match = _BLOCK.search(answer)
    code = textwrap.dedent(match.group(1) if match else answer).strip("\n")
    name = qualname.rsplit(".", 1)[-1]
    if node is None or not re.search(rf"^\s*(async\s+)?def\s+{re.escape(name)}\b", code, re.M):
        return None
    lines = source.splitlines(True)
    indent = re.match(r"\s*", lines[first_line(node) - 1]).group(0)  # type: ignore[union-attr]
    new = textwrap.indent(code, indent) + "\n"
    out = "".join(lines[:first_line(node) - 1]) + new + "".join(lines[node.end_lineno or node.lineno:])
    try:
        changed = ast.dump(ast.parse(out)) != ast.dump(tree)
    except (SyntaxError, ValueError):
        return None
    return out if changed and _node(ast.parse(out), qualname) is not None else None


def rewrite_candidates(sources: dict[str, str], functions: list[SourceFunction], model: Model,
                       durations: dict[str, float]) -> Iterator[Candidate]:
    """Covered functions ranked by coverage, each rewritten by ``model``."""
    failures = 0
    for fn in rank_functions(functions, durations):
        text = sources[fn.path]
        node = _node(ast.parse(text), fn.qualname)
        if node is None:
            continue
        prompt = PROMPT.format(path=fn.path, header=header(text, node))
        try:
            answer = model.complete([{"role": "user", "content": prompt}]).content or ""
            failures = 0
        except ModelError as exc:
            failures += 1
            if failures >= MAX_FAILURES:
                raise TaskError(f"the model endpoint failed {failures} times in a row: {exc}") from exc
            continue
        new = splice(text, fn.qualname, answer)
        if new is None:
            continue
        yield Candidate(TaskKind.MODEL_REWRITE, f"{fn.path}: model rewrite of {fn.qualname}", "model-rewrite",
                        fn.path, fn.qualname, unified_patch(fn.path, text, new), unified_patch(fn.path, new, text),
                        relevant_tests=fn.tests, depth=fn.depth, swap=_swap(fn.path, text, new, fn))
