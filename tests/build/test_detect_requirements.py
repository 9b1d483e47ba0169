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


def test_hatchling_projects_get_editables_in_the_dependency_layer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """humanize 4.11 (hatchling, dev-mode-exact): the install without build isolation failed for
    want of `editables`, and the isolated fallback cost 20 s of a 41 s warm build."""
    from forager.build.detect.declared import build_requires
    from forager.build.detect.project_files import ProjectFiles

    (tmp_path / "pyproject.toml").write_text('[build-system]\nrequires = ["hatchling", "hatch-vcs"]\n'
                                             'build-backend = "hatchling.build"\n')
    assert build_requires(ProjectFiles.read(tmp_path), "3.11") == ["hatchling", "hatch-vcs", "editables"]
    (tmp_path / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=61"]\n')
    assert build_requires(ProjectFiles.read(tmp_path), "3.11") == ["setuptools>=61"]


def test_the_projects_pytest_pin_reaches_the_dependency_layer() -> None:
    from forager.build.detect.requirements import final_deps

    assert final_deps(["coverage", "pytest>=6.0.0,<7.0.0"], "pyjwt") == ["pytest>=6.0.0,<7.0.0", "coverage"]
    assert final_deps(["nose", "pytest>=6"], "old") == ["pytest>=6,<8", "nose"]
    assert final_deps(["nose"], "old") == ["pytest<8", "nose"]
    assert final_deps(["pytest", "mock", "demo"], "demo") == ["pytest", "mock"]
