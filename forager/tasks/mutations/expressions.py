"""Expression mutation families, inside one function's own body (nested functions and classes
left to their own turn):

  operators   replace a binary, unary, comparison or boolean operator
  constants   off-by-one integer constants
  conditions  invert an ``if``/``while`` condition or a conditional expression
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from forager.tasks.mutations.families import Proposal
from forager.tasks.mutations.functions import FuncNode, body_of
from forager.tasks.mutations.text import Edit, Text, find_op

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


def _own_nodes(node: FuncNode) -> Iterator[ast.AST]:
    """Nodes of a function's body, not descending into nested functions or classes."""
    stack: list[ast.AST] = list(body_of(node))
    while stack:
        cur = stack.pop()
        yield cur
        for child in ast.iter_child_nodes(cur):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.JoinedStr):
                continue
            stack.append(child)


def operators_family(text: Text, node: FuncNode) -> Iterator[Proposal]:
    for sub in _own_nodes(node):
        if isinstance(sub, ast.BinOp) and type(sub.op) in BINOP_SWAP:
            old = BINOP_TEXT[type(sub.op)]
            span = find_op(text, text.span(sub.left)[1], text.span(sub.right)[0], old)
            if span:
                new = BINOP_SWAP[type(sub.op)]
                yield ("operators", f"replace binary `{old}` by `{new}` in {node.name}", sub.lineno,
                       [(span[0], span[1], new)])
        elif isinstance(sub, ast.Compare):
            operands = [sub.left, *sub.comparators]
            for k, op in enumerate(sub.ops):
                old = CMP_TEXT[type(op)]
                span = find_op(text, text.span(operands[k])[1], text.span(operands[k + 1])[0], old)
                if span:
                    new = CMP_SWAP[type(op)]
                    yield ("operators", f"replace comparison `{old}` by `{new}` in {node.name}",
                           sub.lineno, [(span[0], span[1], new)])
        elif isinstance(sub, ast.BoolOp):
            old, new = ("and", "or") if isinstance(sub.op, ast.And) else ("or", "and")
            edits: list[Edit] = []
            for left, right in zip(sub.values, sub.values[1:], strict=False):
                span = find_op(text, text.span(left)[1], text.span(right)[0], old)
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


def constants_family(text: Text, node: FuncNode) -> Iterator[Proposal]:
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


def conditions_family(text: Text, node: FuncNode) -> Iterator[Proposal]:
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

