"""From one file's source to mutated sources: every family's proposals, re-parsed and deduplicated;
and the stub of one function (its body replaced by ``raise NotImplementedError``)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from forager.tasks.mutations.expressions import conditions_family, constants_family, operators_family
from forager.tasks.mutations.families import (
    Proposal,
    arguments_family,
    function_family,
    statements_family,
    variables_family,
)
from forager.tasks.mutations.functions import FuncNode, body_of, is_stub, iter_functions
from forager.tasks.mutations.text import Text, apply_edits

FAMILIES = ("function", "arguments", "variables", "statements", "operators", "constants", "conditions")

Family = Callable[[Text, FuncNode, bool], Iterator[Proposal]]
"""(text, function, is it a method) -> proposals."""

FAMILY_OF: dict[str, Family] = {
    "function": lambda text, node, _: function_family(text, node),
    "arguments": arguments_family,
    "variables": lambda text, node, _: variables_family(text, node),
    "statements": lambda text, node, _: statements_family(text, node, node.name),
    "operators": lambda text, node, _: operators_family(text, node),
    "constants": lambda text, node, _: constants_family(text, node),
    "conditions": lambda text, node, _: conditions_family(text, node),
}


@dataclass(frozen=True)
class Mutation:
    family: str
    description: str
    function: str
    """Qualified name of the mutated function (``Class.method``), or ``<module>``."""
    lineno: int
    source: str
    """The whole mutated file."""


def _normalised_dump(source: str) -> str | None:
    try:
        return ast.dump(ast.parse(source))
    except (SyntaxError, ValueError):
        return None


def _proposals(tree: ast.Module, text: Text, functions: set[str] | None, families: tuple[str, ...],
               include_module: bool) -> Iterator[tuple[str, Proposal]]:
    """(qualified name, proposal) for every selected function and family, in source order."""
    methods = {id(f) for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef)
               for f in cls.body if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)}
    for qual, node in iter_functions(tree):
        if functions is not None and qual not in functions:
            continue
        for fam in families:
            yield from ((qual, p) for p in FAMILY_OF[fam](text, node, id(node) in methods))
    if include_module and "statements" in families:
        yield from (("<module>", p) for p in statements_family(text, tree, "<module>"))


def mutate_source(
    source: str,
    *,
    functions: set[str] | None = None,
    families: tuple[str, ...] = FAMILIES,
    include_module: bool = True,
) -> list[Mutation]:
    """Every candidate mutation of ``source``, restricted to functions whose qualified name is in
    ``functions`` (all when None). Module-level import removals come when ``include_module``.
    A mutation that does not parse, or whose AST does not change, is dropped."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    original = ast.dump(tree)
    text = Text(source)
    out: list[Mutation] = []
    seen: set[str] = set()
    for qual, (family, description, lineno, edits) in _proposals(tree, text, functions, families,
                                                                 include_module):
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
    stub = plan_stub(source, qualname)
    return stub.source if stub else None


@dataclass(frozen=True)
class Stub:
    source: str
    """The file with the function's body replaced."""
    outer: str
    """The outermost function enclosing the stubbed one (itself when it is not nested)."""
    swappable: bool
    """Whether a session can run the stub by giving ``outer`` the new code: not when the file
    defines ``outer`` twice (a property's getter and setter, overloads). A stub that drops the
    ``__class__`` cell (a method that called ``super()``) is swappable: the session runner keeps
    the cell in the new code (``session_plugin._padded``)."""


@lru_cache(maxsize=8)
def _tree(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def plan_stub(source: str, qualname: str) -> Stub | None:
    """The stub of ``qualname`` and what a session needs to know to swap it in, from one parse of
    the file (kept across the functions of a file): the edit spans only the function's body
    statements, so signature, decorators and the rest of the file stay as they were."""
    tree = _tree(source)
    if tree is None:
        return None
    text = Text(source)
    funcs = list(iter_functions(tree))
    node = next((n for q, n in funcs if q == qualname and not is_stub(n)), None)
    if node is None:
        return None
    body = body_of(node)
    a = text.line_span(body[0])
    b = text.line_span(body[-1])
    if a is None or b is None:
        return None
    new = f"{text.indent_of(body[0])}raise NotImplementedError{text.newline()}"
    mutated = apply_edits(source, [(a[0], b[1], new)])
    try:
        ast.parse(mutated)
    except (SyntaxError, ValueError):
        return None
    outer = qualname.split(".<locals>.", 1)[0]
    outers = [n for q, n in funcs if q == outer]
    # a body replaced by ``raise NotImplementedError`` can drop the ``__class__`` cell, never add it
    swappable = len(outers) == 1 and len([q for q, _ in funcs if q == qualname]) == 1
    return Stub(mutated, outer, swappable)


def _node_dump(tree: ast.Module, qualname: str) -> str | None:
    node = next((n for q, n in iter_functions(tree) if q == qualname), None)
    return ast.dump(node) if node is not None else None


@dataclass
class Proposed:
    """The proposals for one function (or the module), turned into mutations one at a time."""

    source: str
    qualname: str
    proposals: list[Proposal]
    original: str | None
    seen: set[int]

    def take(self, proposal: Proposal) -> Mutation | None:
        """The mutation of one proposal; None when it does not parse or changes nothing (the
        function's AST compared, not the whole file's)."""
        family, description, lineno, edits = proposal
        mutated = apply_edits(self.source, edits)
        if hash(mutated) in self.seen:
            return None
        self.seen.add(hash(mutated))
        try:
            tree = ast.parse(mutated)
        except (SyntaxError, ValueError):
            return None
        if self.qualname == "<module>":
            same = ast.dump(tree) == self.original
        else:
            same = _node_dump(tree, self.qualname) == self.original
        return None if same else Mutation(family, description, self.qualname, lineno, mutated)


def propose(source: str, qualname: str, families: tuple[str, ...] = FAMILIES) -> Proposed | None:
    """The unmaterialised mutations of one function (``<module>``: the module-level ones): cheap
    to list, each parsed only when taken."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    text = Text(source)
    module = qualname == "<module>"
    props = [p for _, p in _proposals(tree, text, set() if module else {qualname}, families, module)]
    original = ast.dump(tree) if module else _node_dump(tree, qualname)
    return Proposed(source, qualname, props, original, {hash(source)})
