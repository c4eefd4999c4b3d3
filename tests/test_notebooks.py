"""The notebook harness the chapter tests use (``tests/nbexec.py``).

Every chapter itself is run top to bottom at small size by
``tests/autograder/test_stock_nbgrader.py`` (stock ``nbgrader autograde`` of the instructor's
answers: no cell may show an error, every grade cell must pass) and again by
``tests/autograder/test_check.py``, so this file does not run them a third time. To run one
chapter by hand: ``COURSE_SIZE=small .venv/bin/python bench/chapters.py --size small STEM``.
"""

import pytest
from nbexec import REPO, execute


def test_harness_runs_fixture(tmp_path):
    """Does the harness run a notebook in a fresh kernel with the small size switch?"""
    nb = execute(REPO / "tests/fixtures/tiny.ipynb", cwd=tmp_path)
    assert "45" in nb.cells[-1].outputs[0]["data"]["text/plain"]


def test_harness_reports_a_failing_cell(tmp_path):
    """Does a failing cell fail the run (so a broken chapter cannot pass silently)?"""
    import nbformat
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(REPO / "tests/fixtures/tiny.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise ValueError('broken cell')"))
    with pytest.raises(CellExecutionError, match="broken cell"):
        execute(None, cwd=tmp_path, nb=nb)
