"""Which files are a project's source (the functions the baseline's tests call come from them)."""

from __future__ import annotations

from forager.paths import is_test_like_path as is_test_path
from forager.tasks.baseline import is_source_path


def test_paths_split_tests_from_source() -> None:
    assert is_test_path("tests/test_a.py") and is_test_path("pkg/tests/helpers.py")
    assert is_test_path("test_x.py") and is_test_path("pkg/a_test.py") and is_test_path("conftest.py")
    assert is_source_path("src/pkg/mod.py") and is_source_path("pkg/__init__.py")
    assert not is_source_path("setup.py") and not is_source_path("docs/conf.py")
    assert not is_source_path("pkg/data.json")
