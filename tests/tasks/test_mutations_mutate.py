"""The mutation driver: every family on a small module, the function filter, bad sources, stubs."""

from __future__ import annotations

from mutation_samples import SNIPPET, by_family, changed_lines

from forager.tasks.mutations import FAMILIES, list_functions, mutate_source, stub_function


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


def test_function_filter_and_bad_source() -> None:
    assert all(m.function in ("Box.fits", "<module>") for m in mutate_source(SNIPPET, functions={"Box.fits"}))
    assert mutate_source("def broken(:\n") == []
    assert mutate_source("") == []
    assert list_functions("x = (") == []


def test_stub_keeps_signature_and_docstring() -> None:
    out = stub_function(SNIPPET, "area")
    assert out is not None
    assert 'def area(radius, scale=1):\n    """Area of a circle."""\n    raise NotImplementedError\n\n' in out
    assert "class Box:" in out
    assert stub_function(out, "area") is None  # already a stub
    assert stub_function(SNIPPET, "missing") is None
    assert "raise NotImplementedError" in (stub_function(SNIPPET, "Box.fits") or "")
