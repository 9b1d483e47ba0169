"""Source text editing: operators found through parentheses, comments and line breaks; UTF-8 columns and CRLF."""

from __future__ import annotations

from forager.tasks.mutations import mutate_source


def test_operator_found_through_parentheses_comments_and_line_breaks() -> None:
    src = "def f(a, b):\n    return (a  # left\n            + b)\n"
    (m,) = [m for m in mutate_source(src) if m.family == "operators"]
    assert m.source == "def f(a, b):\n    return (a  # left\n            - b)\n"


def test_unicode_columns_and_crlf_are_respected() -> None:
    src = 'def f(x):\r\n    s = "héllo wörld"; return len(s) + x\r\n'
    ms = [m for m in mutate_source(src) if m.family == "operators"]
    assert [m.source for m in ms] == ['def f(x):\r\n    s = "héllo wörld"; return len(s) - x\r\n']
