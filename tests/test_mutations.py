"""The mutation engine on small snippets: every family, text splicing, stubs and patches (pure, fast)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from forager.tasks.mutations import FAMILIES, list_functions, mutate_source, stub_function, unified_patch

SNIPPET = '''\
import math
from os import path


def area(radius, scale=1):
    """Area of a circle."""
    if radius < 0 and scale > 0:
        raise ValueError("negative")
    result = math.pi * radius ** 2
    result = result * scale
    return result


class Box:
    def __init__(self, width, height):
        self.width = width
        self.height = height

    def fits(self, other):
        return not self.width > other.width or self.height <= other.height

    def join(self, sep):
        return path.join(str(self.width), sep)
'''


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    a, b = old.splitlines(), new.splitlines()
    return [x for x in a if x not in b], [x for x in b if x not in a]


def by_family(source: str, **kw: object) -> dict[str, list]:
    out: dict[str, list] = {f: [] for f in FAMILIES}
    for m in mutate_source(source, **kw):  # type: ignore[arg-type]
        out[m.family].append(m)
    return out


def test_every_family_yields_parseable_distinct_mutations() -> None:
    import ast

    fams = by_family(SNIPPET)
    for family in FAMILIES:
        assert fams[family], family
    sources = [m.source for ms in fams.values() for m in ms]
    assert len(sources) == len(set(sources))
    for s in sources:
        ast.parse(s)
        assert s != SNIPPET


def test_function_family_removes_whole_body_or_one_statement() -> None:
    ms = by_family(SNIPPET, functions={"area"})["function"]
    whole = [m for m in ms if "whole body" in m.description][0]
    assert '"""Area of a circle."""\n    pass\n' in whole.source
    assert "return result" not in whole.source.split("def area")[1].split("class Box")[0]
    parts = [m for m in ms if "whole body" not in m.description]
    assert parts
    for m in parts:
        removed, added = changed_lines(SNIPPET, m.source)
        assert removed and not added


def test_arguments_family_removes_a_parameter_and_swaps_call_arguments() -> None:
    ms = by_family(SNIPPET)["arguments"]
    descs = [m.description for m in ms]
    assert "remove parameter 'scale' from area" in descs
    assert "remove parameter 'radius' from area" in descs
    assert not any("'self'" in d for d in descs)  # methods keep self
    scale = next(m for m in ms if m.description == "remove parameter 'scale' from area")
    assert "def area(radius):" in scale.source
    radius = next(m for m in ms if m.description == "remove parameter 'radius' from area")
    assert "def area(scale=1):" in radius.source
    swap = next(m for m in ms if "swap arguments" in m.description and "path.join" in m.description)
    assert "path.join(sep, str(self.width))" in swap.source


def test_variables_family_swaps_every_occurrence_in_the_body_only() -> None:
    ms = by_family(SNIPPET, functions={"area"})["variables"]
    m = next(m for m in ms if m.description == "swap variables 'radius' and 'scale' in area")
    assert "def area(radius, scale=1):" in m.source  # the signature is untouched
    assert "if scale < 0 and radius > 0:" in m.source
    assert "result = result * radius" in m.source


def test_statements_family_removes_imports_and_returns() -> None:
    ms = by_family(SNIPPET)["statements"]
    descs = " | ".join(m.description for m in ms)
    assert "remove `import math` in <module>" in descs
    assert "remove `from os import path` in <module>" in descs
    ret = next(m for m in ms if m.description == "remove `return result` in area")
    removed, added = changed_lines(SNIPPET, ret.source)
    assert removed == ["    return result"] and not added
    # a return that is the only statement of its body leaves a pass behind
    fits = next(m for m in ms if m.function == "Box.fits")
    assert "def fits(self, other):\n        pass\n" in fits.source


def test_operators_family_touches_only_the_operator() -> None:
    ms = by_family(SNIPPET)["operators"]
    expected = {
        "if radius <= 0 and scale > 0:",
        "if radius < 0 or scale > 0:",
        "result = math.pi / radius ** 2",
        "result = math.pi * radius * 2",
        "return self.width > other.width or self.height <= other.height",  # unary not removed
        "return not self.width > other.width and self.height <= other.height",
        "return not self.width > other.width or self.height < other.height",
    }
    found = set()
    for m in ms:
        removed, added = changed_lines(SNIPPET, m.source)
        assert len(removed) == 1 and len(added) == 1, m.description
        found.add(added[0].strip())
    assert expected <= found


def test_constants_and_conditions() -> None:
    fams = by_family(SNIPPET, functions={"area"})
    consts = {changed_lines(SNIPPET, m.source)[1][0].strip() for m in fams["constants"]}
    assert {"if radius < 1 and scale > 0:", "result = math.pi * radius ** 3",
            "result = math.pi * radius ** 1"} <= consts
    cond = fams["conditions"][0]
    assert "if not (radius < 0 and scale > 0):" in cond.source


def test_operator_found_through_parentheses_comments_and_line_breaks() -> None:
    src = "def f(a, b):\n    return (a  # left\n            + b)\n"
    (m,) = [m for m in mutate_source(src) if m.family == "operators"]
    assert m.source == "def f(a, b):\n    return (a  # left\n            - b)\n"


def test_unicode_columns_and_crlf_are_respected() -> None:
    src = 'def f(x):\r\n    s = "héllo wörld"; return len(s) + x\r\n'
    ms = [m for m in mutate_source(src) if m.family == "operators"]
    assert [m.source for m in ms] == ['def f(x):\r\n    s = "héllo wörld"; return len(s) - x\r\n']


def test_function_filter_and_bad_source() -> None:
    assert all(m.function in ("Box.fits", "<module>") for m in mutate_source(SNIPPET, functions={"Box.fits"}))
    assert mutate_source("def broken(:\n") == []
    assert mutate_source("") == []
    assert list_functions("x = (") == []


def test_list_functions_reports_qualnames_and_decorated_first_line() -> None:
    src = ("import functools\n\nclass A:\n    @functools.cache\n    def m(self):\n"
           "        def inner():\n            return 1\n        return inner()\n")
    info = {f.qualname: f for f in list_functions(src)}
    assert set(info) == {"A.m", "A.m.<locals>.inner"}
    assert info["A.m"].lineno == 4 and info["A.m"].def_lineno == 5


def test_stub_keeps_signature_and_docstring() -> None:
    out = stub_function(SNIPPET, "area")
    assert out is not None
    assert 'def area(radius, scale=1):\n    """Area of a circle."""\n    raise NotImplementedError\n\n' in out
    assert "class Box:" in out
    assert stub_function(out, "area") is None  # already a stub
    assert stub_function(SNIPPET, "missing") is None
    assert "raise NotImplementedError" in (stub_function(SNIPPET, "Box.fits") or "")


@pytest.mark.parametrize("trailing_newline", [True, False])
def test_patches_apply_with_git(tmp_path: Path, trailing_newline: bool) -> None:
    src = SNIPPET if trailing_newline else SNIPPET.rstrip("\n")
    (tmp_path / "pkg").mkdir()
    target = tmp_path / "pkg" / "mod.py"
    target.write_text(src)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    for m in mutate_source(src)[:40]:
        patch = unified_patch("pkg/mod.py", src, m.source)
        (tmp_path / "p.diff").write_text(patch)
        subprocess.run(["git", "apply", "p.diff"], cwd=tmp_path, check=True)
        assert target.read_text() == m.source
        subprocess.run(["git", "apply", "-R", "p.diff"], cwd=tmp_path, check=True)
        assert target.read_text() == src
    assert unified_patch("pkg/mod.py", src, src) == ""


def test_patch_of_a_long_file_shows_only_the_changed_line() -> None:
    block = "def f{i}(x):\n    if x:\n        return {i}\n    else:\n        return -x\n\n\n"
    src = "".join(block.format(i=i) for i in range(120))
    mutated = src.replace("        return 60\n", "        return 61\n")
    patch = unified_patch("m.py", src, mutated)
    changed = [ln for ln in patch.splitlines()[3:] if ln[:1] in "+-"]
    assert changed == ["-        return 60", "+        return 61"]


def test_unified_patch_of_a_long_file_matches_only_the_change() -> None:
    """The matcher sees only the changed middle (it is quadratic on whole long files); the hunk is
    the one a whole-file diff gives: three lines of context, the right line numbers."""
    from forager.tasks.mutations import unified_patch

    old = "".join(f"x = {i}\n" for i in range(20000))
    new = old.replace("x = 12345\n", "x = -1\n")
    patch = unified_patch("big.py", old, new)
    assert patch.splitlines()[3:] == ["@@ -12343,7 +12343,7 @@", " x = 12342", " x = 12343", " x = 12344",
                                      "-x = 12345", "+x = -1", " x = 12346", " x = 12347", " x = 12348"]
