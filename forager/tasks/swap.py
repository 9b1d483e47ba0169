"""Which changes the session runner can give to an already imported function: a change confined
to one function's body (signature, decorators and everything outside the function unchanged) is
run by replacing the code object of its outermost enclosing function."""

from __future__ import annotations

import ast

from forager.tasks.mutations.functions import FuncNode, iter_functions, uses_class_cell


def _find(tree: ast.Module, qualname: str) -> FuncNode | None:
    return next((n for q, n in iter_functions(tree) if q == qualname), None)


def swap_target(before: str, after: str, qualname: str | None) -> str | None:
    """The qualified name of the function whose code object to replace to run ``after`` in a
    session that imported ``before``; None when the change reaches outside that function's body."""
    if not qualname or qualname == "<module>":
        return None
    outer = qualname.split(".<locals>.", 1)[0]
    try:
        t1, t2 = ast.parse(before), ast.parse(after)
    except (SyntaxError, ValueError):
        return None
    n1, n2 = _find(t1, outer), _find(t2, outer)
    if n1 is None or n2 is None:
        return None
    for a, b in ((n1.args, n2.args), (n1.returns, n2.returns)):
        if (ast.dump(a) if a else "") != (ast.dump(b) if b else ""):
            return None
    if [ast.dump(d) for d in n1.decorator_list] != [ast.dump(d) for d in n2.decorator_list]:
        return None
    if uses_class_cell(n2) and not uses_class_cell(n1):  # the ``__class__`` cell comes (one that
        return None  # goes is kept: the session runner pads the new code's names, ``_padded``)
    n1.body, n2.body = [ast.Pass()], [ast.Pass()]
    return outer if ast.dump(t1) == ast.dump(t2) else None
