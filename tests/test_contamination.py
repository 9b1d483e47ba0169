"""The contamination list: sources of public evaluation sets' repositories are flagged."""

import pytest

from forager.contamination import evaluation_sets, is_contaminated, owner_and_name


@pytest.mark.parametrize(
    ("source", "sets"),
    [
        ("pypi:Django==4.2", ["swe-bench", "swe-bench-verified"]),
        ("pypi:hydra_core", ["swe-gym"]),
        ("https://github.com/pandas-dev/pandas.git", ["swe-gym", "r2e-gym"]),
        ("git@github.com:psf/requests.git", ["swe-bench", "swe-bench-verified"]),
        ("/work/.mirror/sympy+sympy/repo", ["swe-bench", "swe-bench-verified"]),
        ("pypi:toolz==1.0.0", []),
        ("https://github.com/pytoolz/toolz", []),
        ("/tmp/some/local/requests", []),
    ],
)
def test_sources_map_to_their_evaluation_sets(source: str, sets: list[str]) -> None:
    assert evaluation_sets(source) == sets
    assert is_contaminated(source) is bool(sets)


def test_owner_and_name_of_urls_and_mirrors() -> None:
    assert owner_and_name("https://github.com/Pylons/pyramid/") == "pylons/pyramid"
    assert owner_and_name("/work/.mirror/jd+tenacity/repo") == "jd/tenacity"
    assert owner_and_name("pypi:six") is None
