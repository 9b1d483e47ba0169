"""A module's functions: qualified names and first lines."""

from __future__ import annotations

from forager.tasks.mutations import list_functions


def test_list_functions_reports_qualnames_and_decorated_first_line() -> None:
    src = ("import functools\n\nclass A:\n    @functools.cache\n    def m(self):\n"
           "        def inner():\n            return 1\n        return inner()\n")
    info = {f.qualname: f for f in list_functions(src)}
    assert set(info) == {"A.m", "A.m.<locals>.inner"}
    assert info["A.m"].lineno == 4 and info["A.m"].def_lineno == 5
