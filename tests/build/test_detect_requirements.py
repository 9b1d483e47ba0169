"""Which requirement specs are kept."""

from __future__ import annotations

from forager.build.detect.requirements import clean_requirement


def test_clean_requirement() -> None:
    assert clean_requirement("requests>=2 # comment") == "requests>=2"
    assert clean_requirement("-e .") is None
    assert clean_requirement("black") is None
    assert clean_requirement("not a requirement !!") is None


def test_a_dev_requirement_file_is_left_out_beside_a_test_one() -> None:
    from forager.build.detect.requirements import without_redundant_dev_files

    assert without_redundant_dev_files(["requirements/dev.txt", "requirements/tests.txt"]) == ["requirements/tests.txt"]
    assert without_redundant_dev_files(["requirements-dev.txt", "requirements-test.txt", "requirements.txt"]) == [
        "requirements-test.txt", "requirements.txt"]
    assert without_redundant_dev_files(["dev-requirements.txt", "test-requirements.txt"]) == ["test-requirements.txt"]
    # no test file: the dev file is where the test requirements are
    assert without_redundant_dev_files(["requirements/development.txt"]) == ["requirements/development.txt"]
    assert without_redundant_dev_files(["requirements-dev.txt", "requirements.txt"]) == [
        "requirements-dev.txt", "requirements.txt"]
