"""The maintainers' CI test job as a recipe (parsing, no Docker)."""

from __future__ import annotations

from pathlib import Path

from forager.build.detect.ci_recipe import ci_recipe

WORKFLOW = """on: [push]
env:
  GEN_MODE: full
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: pip install ruff && ruff check .
  test:
    runs-on: ubuntu-latest
    services:
      redis:
        image: redis
    strategy:
      matrix:
        python-version: ["3.9", "3.12"]
        extra: [fast, slow]
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: ${{ matrix.python-version }}
      - name: Upload secrets
        run: echo ${{ secrets.TOKEN }} > /tmp/token
      - name: Install
        run: |
          sudo apt-get install -y less
          python -m pip install -e .[${{ matrix.extra }}]
      - run: python scripts/gen.py --python ${{ matrix.python-version }} --mode ${{ env.GEN_MODE }}
      - run: echo ${{ steps.x.outputs.path }}
      - name: Test
        run: python -m pytest tests -q --cov=pkg -n auto --junitxml=out.xml -k "not slow"
      - uses: codecov/codecov-action@v4
"""


def test_the_test_job_becomes_a_recipe(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(WORKFLOW)
    r = ci_recipe(tmp_path, "3.11")
    assert r is not None and (r.workflow, r.job) == ("ci.yml", "test")
    assert r.setup == ["apt-get install -y less\npython -m pip install -e .[fast]",
                       "python scripts/gen.py --python 3.11 --mode full"]
    assert r.pytest_args == ["tests", "-q", "-k", "not slow"]
    assert r.skipped == ["services redis: not started", "Upload secrets: needs secrets",
                         "step 6: an expression that cannot be known here"]
    assert ci_recipe(tmp_path / "nothing", "3.11") is None


def test_shell_variables_of_the_pytest_line_come_from_the_workflow_env(tmp_path: Path) -> None:
    """pint 0.24.4 runs `pytest $TEST_OPTS` with TEST_OPTS in the job's env; the CI path passed the
    literal '$TEST_OPTS' and pytest stopped at 'file or directory not found'."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(
        "jobs:\n  test:\n    env:\n      TEST_OPTS: \"-rfsxEX -s --cov=pint --benchmark-skip\"\n"
        "    steps:\n      - run: pip install -e .\n      - run: pytest $TEST_OPTS ${UNSET_VAR} tests\n")
    r = ci_recipe(tmp_path, "3.11")
    assert r is not None
    assert r.pytest_args == ["-rfsxEX", "-s", "tests"]  # coverage and benchmark options dropped as before
