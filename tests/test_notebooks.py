"""Every chapter runs top to bottom in a fresh kernel at small size, and passes its own checks."""

import pytest
from nbexec import REPO, chapter_notebooks, execute, grade_cell_results


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


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.stem)
def test_chapter_runs_at_small_size(path, tmp_path):
    """Does the chapter run top to bottom in a fresh kernel at small size, all checks passing?"""
    nb = execute(path, cwd=tmp_path, size="small", timeout=600)
    results = grade_cell_results(nb)
    assert len(results) >= 3, "each chapter has at least three graded exercises"
    assert all(results.values()), results
