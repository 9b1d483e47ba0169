"""Which requirement specs are kept."""

from __future__ import annotations

from forager.build.detect.requirements import clean_requirement


def test_clean_requirement() -> None:
    assert clean_requirement("requests>=2 # comment") == "requests>=2"
    assert clean_requirement("-e .") is None
    assert clean_requirement("black") is None
    assert clean_requirement("not a requirement !!") is None
