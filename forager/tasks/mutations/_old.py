"""AST mutations: pure functions from one file's source to candidate mutated sources.

Each mutation edits the source *text* at the positions the ``ast`` nodes give, so a mutated file
differs from the original only on the lines the mutation touches (small, readable patches).
Every candidate is re-parsed; one that does not parse, or whose AST does not change, is dropped.

Families (after the CWM paper's mutate-fix split, plus two extras):
  function    remove one statement of a body, or the whole body (docstring kept, ``pass`` left)
  arguments   remove a parameter from a definition; swap two positional arguments of a call
  variables   swap every occurrence of two local variables inside one function body
  statements  remove an import or a ``return``
  operators   replace a binary, unary, comparison or boolean operator
  constants   off-by-one integer constants
  conditions  invert an ``if`` condition
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

FAMILIES = ("function", "arguments", "variables", "statements", "operators", "constants", "conditions")

BINOP_SWAP: dict[type[ast.operator], str] = {
    ast.Add: "-", ast.Sub: "+", ast.Mult: "/", ast.Div: "*", ast.FloorDiv: "/", ast.Mod: "//",
    ast.Pow: "*", ast.LShift: ">>", ast.RShift: "<<", ast.BitOr: "&", ast.BitAnd: "|", ast.BitXor: "|",
    ast.MatMult: "*",
}
BINOP_TEXT: dict[type[ast.operator], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^",
    ast.MatMult: "@",
}
CMP_TEXT: dict[type[ast.cmpop], str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}
CMP_SWAP: dict[type[ast.cmpop], str] = {
    ast.Eq: "!=", ast.NotEq: "==", ast.Lt: "<=", ast.LtE: "<", ast.Gt: ">=", ast.GtE: ">",
    ast.Is: "is not", ast.IsNot: "is", ast.In: "not in", ast.NotIn: "in",
}
UNARY_TEXT: dict[type[ast.unaryop], str] = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not", ast.Invert: "~"}


@dataclass(frozen=True)
class Mutation:
    family: str
    description: str
    function: str
    """Qualified name of the mutated function (``Class.method``), or ``<module>``."""
    lineno: int
    source: str
    """The whole mutated file."""


@dataclass(frozen=True)
class FunctionInfo:
    qualname: str
    lineno: int
    """First line, decorators included (what ``co_firstlineno`` reports)."""
    def_lineno: int
    end_lineno: int
    body_statements: int
    """Statements in the body, the docstring excluded."""


# ------------------------------------------------------------------------------------- positions
class Text:
    """Source text with conversion from AST (line, UTF-8 byte column) positions to string offsets."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = io.StringIO(source, newline="").readlines()
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        chars = len(line.encode("utf-8")[:col].decode("utf-8", errors="replace"))
        return self.starts[lineno - 1] + chars

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.offset(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def segment(self, node: ast.AST) -> str:
        a, b = self.span(node)
        return self.source[a:b]

    def line_span(self, node: ast.stmt) -> tuple[int, int] | None:
        """Whole lines of a statement, when it stands alone on them (else None)."""
        a, b = self.span(node)
        first = self.starts[node.lineno - 1]
        last_end = self.starts[node.end_lineno]  # type: ignore[index]
        if self.source[first:a].strip():
            return None
        rest = self.source[b:last_end]
        if rest.strip() and not rest.strip().startswith("#"):
            return None
        return first, last_end

    def indent_of(self, node: ast.stmt) -> str:
        line = self.lines[node.lineno - 1]
        return line[: len(line) - len(line.lstrip())]

    def newline(self) -> str:
        for line in self.lines:
            if line.endswith("\r\n"):
                return "\r\n"
            if line.endswith("\n"):
                return "\n"
        return "\n"


Edit = tuple[int, int, str]


def apply_edits(source: str, edits: list[Edit]) -> str:
    out = source
    for a, b, new in sorted(edits, key=lambda e: e[0], reverse=True):
        out = out[:a] + new + out[b:]
    return out


def _mask_comments(gap: str) -> str:
    return re.sub(r"#[^\r\n]*", lambda m: " " * len(m.group(0)), gap)


def _find_op(text: Text, start: int, end: int, op: str) -> tuple[int, int] | None:
    """The span of operator token ``op`` in the gap between two operands (parentheses,
    whitespace, comments and line continuations allowed around it)."""
    gap = _mask_comments(text.source[start:end])
    pattern = r"[\s()\\]*(" + r"\s+".join(re.escape(p) for p in op.split()) + r")[\s()\\]*"
    m = re.fullmatch(pattern, gap)
    if not m:
        return None
    return start + m.start(1), start + m.end(1)


# ------------------------------------------------------------------------------------- functions
FuncNode = ast.FunctionDef | ast.AsyncFunctionDef


def _iter_functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, FuncNode]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            qual = f"{prefix}{node.name}"
            yield qual, node
            yield from _iter_functions(node, f"{qual}.<locals>.")
        elif isinstance(node, ast.ClassDef):
            yield from _iter_functions(node, f"{prefix}{node.name}.")
        elif not isinstance(node, ast.Lambda):
            yield from _iter_functions(node, prefix)


def _first_line(node: FuncNode) -> int:
    return min([d.lineno for d in node.decorator_list] + [node.lineno])


def _has_docstring(node: FuncNode) -> bool:
    first = node.body[0]
    return (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str))


def _body(node: FuncNode) -> list[ast.stmt]:
    return node.body[1:] if _has_docstring(node) else list(node.body)


def list_functions(source: str) -> list[FunctionInfo]:
    """Every function and method of ``source`` (empty when it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    return [FunctionInfo(q, _first_line(n), n.lineno, n.end_lineno or n.lineno, len(_body(n)))
            for q, n in _iter_functions(tree)]


def _is_stub(node: FuncNode) -> bool:
    body = _body(node)
    if not body:
        return True
    if len(body) != 1:
        return False
    s = body[0]
    if isinstance(s, ast.Pass):
        return True
    if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and s.value.value is Ellipsis:
        return True
    return isinstance(s, ast.Raise) and "NotImplementedError" in ast.dump(s)


# ------------------------------------------------------------------------------------- families
Candidate = tuple[str, str, int, list[Edit]]  # family, description, lineno, edits


def _remove_statement(text: Text, stmt: ast.stmt, parent_body: list[ast.stmt]) -> list[Edit] | None:
    span = text.line_span(stmt)
    if span is None:
        return None
    if len(parent_body) == 1:  # the block would be empty: leave a pass
        return [(span[0], span[1], f"{text.indent_of(stmt)}pass{text.newline()}")]
    return [(span[0], span[1], "")]


def _function_family(text: Text, node: FuncNode) -> Iterator[Candidate]:
    body = _body(node)
    if _is_stub(node):
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


def _arguments_family(text: Text, node: FuncNode, is_method: bool) -> Iterator[Candidate]:
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


def _variables_family(text: Text, node: FuncNode, limit: int = 6) -> Iterator[Candidate]:
    if any(isinstance(s, ast.Global | ast.Nonlocal) for s in ast.walk(node)):
        return
    body = _body(node)
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


def _statements_family(text: Text, scope: ast.AST, scope_name: str) -> Iterator[Candidate]:
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


def _own_nodes(node: FuncNode) -> Iterator[ast.AST]:
    """Nodes of a function's body, not descending into nested functions or classes."""
    stack: list[ast.AST] = list(_body(node))
    while stack:
        cur = stack.pop()
        yield cur
        for child in ast.iter_child_nodes(cur):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.JoinedStr):
                continue
            stack.append(child)


def _operators_family(text: Text, node: FuncNode) -> Iterator[Candidate]:
    for sub in _own_nodes(node):
        if isinstance(sub, ast.BinOp) and type(sub.op) in BINOP_SWAP:
            old = BINOP_TEXT[type(sub.op)]
            span = _find_op(text, text.span(sub.left)[1], text.span(sub.right)[0], old)
            if span:
                new = BINOP_SWAP[type(sub.op)]
                yield ("operators", f"replace binary `{old}` by `{new}` in {node.name}", sub.lineno,
                       [(span[0], span[1], new)])
        elif isinstance(sub, ast.Compare):
            operands = [sub.left, *sub.comparators]
            for k, op in enumerate(sub.ops):
                old = CMP_TEXT[type(op)]
                span = _find_op(text, text.span(operands[k])[1], text.span(operands[k + 1])[0], old)
                if span:
                    new = CMP_SWAP[type(op)]
                    yield ("operators", f"replace comparison `{old}` by `{new}` in {node.name}",
                           sub.lineno, [(span[0], span[1], new)])
        elif isinstance(sub, ast.BoolOp):
            old, new = ("and", "or") if isinstance(sub.op, ast.And) else ("or", "and")
            edits: list[Edit] = []
            for left, right in zip(sub.values, sub.values[1:], strict=False):
                span = _find_op(text, text.span(left)[1], text.span(right)[0], old)
                if span is None:
                    break
                edits.append((span[0], span[1], new))
            else:
                yield ("operators", f"replace boolean `{old}` by `{new}` in {node.name}", sub.lineno, edits)
        elif isinstance(sub, ast.UnaryOp):
            old = UNARY_TEXT[type(sub.op)]
            a, _ = text.span(sub)
            b, _ = text.span(sub.operand)
            prefix = text.source[a:b]
            if not prefix.startswith(old):
                continue
            cut = len(old) + (len(prefix[len(old):]) - len(prefix[len(old):].lstrip(" \t")))
            if old == "not" and cut == len(old) and not prefix[len(old):].startswith("("):
                continue
            yield ("operators", f"remove unary `{old}` in {node.name}", sub.lineno, [(a, a + cut, "")])


def _constants_family(text: Text, node: FuncNode) -> Iterator[Candidate]:
    for sub in _own_nodes(node):
        if (isinstance(sub, ast.Constant) and type(sub.value) is int and sub.value < 10**6
                and text.segment(sub).isdigit()):
            a, b = text.span(sub)
            for delta in (1, -1):
                new = sub.value + delta
                if new < 0:
                    continue
                yield ("constants", f"change constant {sub.value} to {new} in {node.name}", sub.lineno,
                       [(a, b, str(new))])


def _conditions_family(text: Text, node: FuncNode) -> Iterator[Candidate]:
    for sub in _own_nodes(node):
        if isinstance(sub, ast.If | ast.While | ast.IfExp):
            if isinstance(sub.test, ast.UnaryOp) and isinstance(sub.test.op, ast.Not):
                continue  # removing that `not` is an operators mutation already
            a, b = text.span(sub.test)
            seg = text.source[a:b]
            inner = seg if seg.startswith("(") and seg.endswith(")") else f"({seg})"
            if isinstance(sub.test, ast.Name | ast.Attribute | ast.Call | ast.Subscript):
                inner = seg
            kw = {ast.If: "if", ast.While: "while", ast.IfExp: "conditional"}[type(sub)]
            yield ("conditions", f"invert the {kw} condition (line {sub.lineno}) in {node.name}",
                   sub.lineno, [(a, b, f"not {inner}")])


# ------------------------------------------------------------------------------------- driver
def _normalised_dump(source: str) -> str | None:
    try:
        return ast.dump(ast.parse(source))
    except (SyntaxError, ValueError):
        return None


def mutate_source(
    source: str,
    *,
    functions: set[str] | None = None,
    families: tuple[str, ...] = FAMILIES,
    include_module: bool = True,
) -> list[Mutation]:
    """Every candidate mutation of ``source``, restricted to functions whose qualified name is in
    ``functions`` (all when None). Module-level import removals come when ``include_module``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    original = ast.dump(tree)
    text = Text(source)
    candidates: list[tuple[str, Candidate]] = []
    methods = {id(f) for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef)
               for f in cls.body if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)}
    for qual, node in _iter_functions(tree):
        if functions is not None and qual not in functions:
            continue
        gens: dict[str, Iterator[Candidate]] = {
            "function": _function_family(text, node),
            "arguments": _arguments_family(text, node, id(node) in methods),
            "variables": _variables_family(text, node),
            "statements": _statements_family(text, node, node.name),
            "operators": _operators_family(text, node),
            "constants": _constants_family(text, node),
            "conditions": _conditions_family(text, node),
        }
        for fam in families:
            candidates.extend((qual, c) for c in gens[fam])
    if include_module and "statements" in families:
        candidates.extend(("<module>", c) for c in _statements_family(text, tree, "<module>"))

    out: list[Mutation] = []
    seen: set[str] = set()
    for qual, (family, description, lineno, edits) in candidates:
        mutated = apply_edits(source, edits)
        dump = _normalised_dump(mutated)
        if dump is None or dump == original or mutated in seen:
            continue
        seen.add(mutated)
        out.append(Mutation(family, description, qual, lineno, mutated))
    return out


def stub_function(source: str, qualname: str) -> str | None:
    """``source`` with the body of ``qualname`` replaced by ``raise NotImplementedError``
    (signature and docstring kept); None when there is no such function or it is already a stub."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    text = Text(source)
    for qual, node in _iter_functions(tree):
        if qual != qualname or _is_stub(node):
            continue
        body = _body(node)
        a = text.line_span(body[0])
        b = text.line_span(body[-1])
        if a is None or b is None:
            return None
        new = f"{text.indent_of(body[0])}raise NotImplementedError{text.newline()}"
        mutated = apply_edits(source, [(a[0], b[1], new)])
        return mutated if _normalised_dump(mutated) is not None else None
    return None


def unified_patch(path: str, old: str, new: str, context: int = 3) -> str:
    """A ``git apply``-able unified diff turning ``old`` into ``new`` for file ``path``.

    Unlike ``difflib.unified_diff`` it turns SequenceMatcher's autojunk off, so that common lines
    of a long file (``else:``, blank lines) never show as removed and added again."""
    import difflib

    def lines(text: str) -> list[str]:
        out = io.StringIO(text, newline="").readlines()
        if out and not out[-1].endswith(("\n", "\r")):
            out[-1] += "\n\\ No newline at end of file\n"
        return out

    a, b = lines(old), lines(new)
    # Only the changed middle is matched (the matcher is quadratic without autojunk); `context`
    # equal lines stay on each side so the hunks are the same as over the whole file.
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    skip, keep_tail = max(0, head - context), max(0, tail - context)
    a_mid, b_mid = a[skip:len(a) - keep_tail], b[skip:len(b) - keep_tail]
    out = [f"diff --git a/{path} b/{path}\n", f"--- a/{path}\n", f"+++ b/{path}\n"]
    groups = difflib.SequenceMatcher(None, a_mid, b_mid, autojunk=False).get_grouped_opcodes(context)
    for group in groups:
        group = [(tag, x1 + skip, x2 + skip, y1 + skip, y2 + skip) for tag, x1, x2, y1, y2 in group]
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@\n")
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                out += [" " + line for line in a[x1:x2]]
                continue
            out += ["-" + line for line in a[x1:x2]]
            out += ["+" + line for line in b[y1:y2]]
    return "".join(out) if len(out) > 3 else ""


def _range(start: int, stop: int) -> str:
    length = stop - start
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"
