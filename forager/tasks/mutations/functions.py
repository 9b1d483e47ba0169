"""The functions of a module: qualified names, first lines, bodies without docstrings, stubs."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

FuncNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class FunctionInfo:
    qualname: str
    lineno: int
    """First line, decorators included (what ``co_firstlineno`` reports)."""
    def_lineno: int
    end_lineno: int
    body_statements: int
    """Statements in the body, the docstring excluded."""
    body_lineno: int = 0
    """First line of the body (its docstring, if any)."""


def iter_functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, FuncNode]]:
    """Every function and method under ``tree`` with its qualified name (``Class.method``,
    ``outer.<locals>.inner``); lambdas are not functions here."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            qual = f"{prefix}{node.name}"
            yield qual, node
            yield from iter_functions(node, f"{qual}.<locals>.")
        elif isinstance(node, ast.ClassDef):
            yield from iter_functions(node, f"{prefix}{node.name}.")
        elif not isinstance(node, ast.Lambda):
            yield from iter_functions(node, prefix)


def first_line(node: FuncNode) -> int:
    return min([d.lineno for d in node.decorator_list] + [node.lineno])


def has_docstring(node: FuncNode) -> bool:
    first = node.body[0]
    return (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str))


def body_of(node: FuncNode) -> list[ast.stmt]:
    """The body's statements, the docstring left out."""
    return node.body[1:] if has_docstring(node) else list(node.body)


def list_functions(source: str) -> list[FunctionInfo]:
    """Every function and method of ``source`` (empty when it does not parse)."""
    return list(_functions(source))


@lru_cache(maxsize=64)
def _functions(source: str) -> tuple[FunctionInfo, ...]:
    """``list_functions`` kept per text: a file's functions are listed once per generation, not
    once per function of it (each listing parses the whole file)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    return tuple(FunctionInfo(q, first_line(n), n.lineno, n.end_lineno or n.lineno, len(body_of(n)),
                              n.body[0].lineno) for q, n in iter_functions(tree))


def is_stub(node: FuncNode) -> bool:
    """An empty body: nothing, ``pass``, ``...`` or ``raise NotImplementedError``."""
    stmts = body_of(node)
    if not stmts:
        return True
    if len(stmts) != 1:
        return False
    s = stmts[0]
    if isinstance(s, ast.Pass):
        return True
    if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and s.value.value is Ellipsis:
        return True
    return isinstance(s, ast.Raise) and "NotImplementedError" in ast.dump(s)


def uses_class_cell(node: FuncNode) -> bool:
    """Whether a function's code needs the ``__class__`` cell (a bare ``super()`` or ``__class__``
    anywhere in it): a change that adds it grows the closure, which no code swap can do (one that
    drops it, the session runner pads)."""
    todo: list[ast.AST] = [node]
    while todo:
        sub = todo.pop()
        if isinstance(sub, ast.Name) and sub.id == "__class__":
            return True
        if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "super"
                and not sub.args):
            return True
        todo.extend(ast.iter_child_nodes(sub))
    return False
