"""Structural mutation families: each yields proposals (family, description, line, edits) for one
function; the caller re-parses every mutated source and drops those that do not change the AST.

  function    remove one statement of a body, or the whole body (docstring kept, ``pass`` left)
  arguments   remove a parameter from a definition; swap two positional arguments of a call
  variables   swap every occurrence of two local variables inside one function body
  statements  remove an import or a ``return``
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from forager.tasks.mutations.functions import FuncNode, body_of, is_stub
from forager.tasks.mutations.text import Edit, Text

Proposal = tuple[str, str, int, list[Edit]]
"""family, description, line number, edits."""


def _remove_statement(text: Text, stmt: ast.stmt, parent_body: list[ast.stmt]) -> list[Edit] | None:
    span = text.line_span(stmt)
    if span is None:
        return None
    if len(parent_body) == 1:  # the block would be empty: leave a pass
        return [(span[0], span[1], f"{text.indent_of(stmt)}pass{text.newline()}")]
    return [(span[0], span[1], "")]


def function_family(text: Text, node: FuncNode) -> Iterator[Proposal]:
    body = body_of(node)
    if is_stub(node):
        return
    first, last = body[0], body[-1]
    a = text.line_span(first)
    b = text.line_span(last)
    single = len(body) == 1 and isinstance(first, ast.Pass | ast.Return | ast.Import | ast.ImportFrom)
    if a and b and not single:  # a lone return or import is the statements family's
        yield ("function", f"remove the whole body of {node.name}", first.lineno,
               [(a[0], b[1], f"{text.indent_of(first)}pass{text.newline()}")])
    if len(body) < 2:
        return
    for stmt in body:
        if isinstance(stmt, ast.Return | ast.Import | ast.ImportFrom | ast.Pass):
            continue  # returns and imports belong to the statements family
        edits = _remove_statement(text, stmt, body)
        if edits:
            yield ("function", f"remove the {type(stmt).__name__.lower()} statement at line {stmt.lineno} "
                   f"from {node.name}", stmt.lineno, edits)


def _param_items(text: Text, args: ast.arguments) -> list[tuple[ast.arg, int, int]]:
    positional = args.posonlyargs + args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    items = []
    for arg, default in zip(positional, defaults, strict=True):
        a, b = text.span(arg)
        if default is not None:
            b = text.span(default)[1]
        items.append((arg, a, b))
    return items


def arguments_family(text: Text, node: FuncNode, is_method: bool) -> Iterator[Proposal]:
    items = _param_items(text, node.args)
    skip_first = is_method and not any(
        isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)
    for i, (arg, a, b) in enumerate(items):
        if i == 0 and skip_first:
            continue
        if i + 1 < len(items):
            edit = (a, items[i + 1][1], "")
        elif i > 0:
            edit = (items[i - 1][2], b, "")
        else:
            edit = (a, b, "")
        yield ("arguments", f"remove parameter {arg.arg!r} from {node.name}", arg.lineno, [edit])
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        pos = [x for x in call.args if not isinstance(x, ast.Starred)]
        if len(pos) != len(call.args) or len(pos) < 2:
            continue
        for j in range(len(pos) - 1):
            x, y = pos[j], pos[j + 1]
            sx, sy = text.segment(x), text.segment(y)
            if sx == sy or "\n" in sx or "\n" in sy:
                continue
            ax, bx = text.span(x)
            ay, by = text.span(y)
            callee = text.segment(call.func)[:40]
            yield ("arguments", f"swap arguments {j + 1} and {j + 2} of a call to {callee} in {node.name}",
                   call.lineno, [(ax, bx, sy), (ay, by, sx)])
            break  # one reordering per call


def _local_names(node: FuncNode) -> list[str]:
    names: list[str] = []
    for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
        names.append(a.arg)
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store) and sub.id not in names:
            names.append(sub.id)
    return [n for n in names if n not in ("self", "cls", "_")]


def variables_family(text: Text, node: FuncNode, limit: int = 6) -> Iterator[Proposal]:
    if any(isinstance(s, ast.Global | ast.Nonlocal) for s in ast.walk(node)):
        return
    body = body_of(node)
    uses: dict[str, list[ast.Name]] = {}
    for stmt in body:
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Name):
                uses.setdefault(sub.id, []).append(sub)
    names = [n for n in _local_names(node) if n in uses
             and any(isinstance(u.ctx, ast.Load) for u in uses[n])]
    count = 0
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            if count >= limit:
                return
            edits: list[Edit] = []
            for name, other in ((x, y), (y, x)):
                for use in uses[name]:
                    a, b = text.span(use)
                    edits.append((a, b, other))
            count += 1
            yield ("variables", f"swap variables {x!r} and {y!r} in {node.name}", uses[x][0].lineno, edits)


def _blocks(scope: ast.AST) -> Iterator[list[ast.stmt]]:
    """Statement lists of a scope, not descending into nested functions or classes."""
    for field_name in ("body", "orelse", "finalbody"):
        block = getattr(scope, field_name, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            yield block
            for stmt in block:
                if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    yield from _blocks(stmt)
    for handler in getattr(scope, "handlers", None) or []:
        yield from _blocks(handler)
    for case in getattr(scope, "cases", None) or []:
        yield from _blocks(case)


def statements_family(text: Text, scope: ast.AST, scope_name: str) -> Iterator[Proposal]:
    for block in _blocks(scope):
        for stmt in block:
            kind = None
            if isinstance(stmt, ast.Import | ast.ImportFrom) and not (
                    isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"):
                kind = "import"
            elif isinstance(stmt, ast.Return) and scope_name != "<module>":
                kind = "return"
            if kind is None:
                continue
            edits = _remove_statement(text, stmt, block)
            if edits:
                what = text.segment(stmt).splitlines()[0][:60]
                yield ("statements", f"remove `{what}` in {scope_name}", stmt.lineno, edits)

