"""The forgery harness itself: does it catch a weak grade cell and clear a strong one?"""

import nbformat
import pytest
from forgery import ROLES, build, defined_names, problems

SETUP = [
    "import sys",
    "import numpy as np\n\nimport course_utils\nfrom course_utils import checks",
]
ANSWER = (
    "def double(x):\n    ### BEGIN SOLUTION\n    return np.asarray(x) * 2\n    ### END SOLUTION"
)
STRONG = (
    '"""double 把输入乘以 2"""\n'
    "checks.check_close(double([1.0, 2.0]), [2.0, 4.0])\n"
    "### BEGIN HIDDEN TESTS\n"
    "got = np.asarray(double(np.arange(5.0)), dtype=float)\n"
    "assert got.shape == (5,) and np.array_equal(got, np.arange(5.0) * 2)\n"
    "### END HIDDEN TESTS"
)
# Compares with ``==`` only: an always-equal object gets through.
WEAK_EQ = '"""double"""\nassert double(3) == 6'
# Trusts the visible check alone: rebinding it, or hard-coding its case, gets through.
WEAK_CHECK = '"""double"""\nchecks.check_close(double([1.0, 2.0]), [2.0, 4.0])'
HARDCODED = {"ch99_double_test": "def double(x):\n    return np.array([2.0, 4.0])\n"}


def chapter(tmp_path, grade_source):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_markdown_cell("# 第 99 章")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in SETUP]
    answer = nbformat.v4.new_code_cell(ANSWER)
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "ch99_double"}
    grade = nbformat.v4.new_code_cell(grade_source)
    grade.metadata["nbgrader"] = {"grade": True, "solution": False, "points": 1}
    grade.metadata["nbgrader"]["grade_id"] = "ch99_double_test"
    nb.cells += [answer, grade]
    path = tmp_path / "99_fixture.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_defined_names_sorts_functions_classes_and_values():
    """Does the harness stub every kind of top-level name an answer defines?"""
    src = "import os\ndef f(): pass\nclass C: pass\na, (b, c) = 1, (2, 3)\nd: int = 4\n"
    assert defined_names(src) == (["f"], ["C"], ["a", "b", "c", "d"])


def test_every_exercise_gets_all_four_roles(tmp_path):
    """Does the built notebook run the grade cell once per forgery and once for real?"""
    nb = nbformat.read(str(chapter(tmp_path, STRONG)), as_version=4)
    roles = [c.metadata["forgery"]["role"] for c in build(nb, HARDCODED).cells]
    assert [r for r in roles if r != "setup"] == list(ROLES)


def test_strong_grade_cell_has_no_problems(tmp_path):
    """Does a grade cell that asserts on plain data catch all three forgeries?"""
    assert problems(chapter(tmp_path, STRONG), HARDCODED, tmp_path) == []


@pytest.mark.parametrize(
    "grade_source, passing",
    [(WEAK_EQ, ["A", "B"]), (WEAK_CHECK, ["B", "C"])],
    ids=["compares-with-eq", "trusts-the-check"],
)
def test_weak_grade_cell_is_reported(tmp_path, grade_source, passing):
    """Is each forgery that passes a weak grade cell named in the report, and only those?"""
    found = problems(chapter(tmp_path, grade_source), HARDCODED, tmp_path)
    expected = [f"ch99_double_test: {ROLES[r]} PASSES the grade cell" for r in passing]
    assert found == expected


def test_missing_hardcoded_forgery_is_reported(tmp_path):
    """Must every grade cell come with a hard-coded forgery?"""
    found = problems(chapter(tmp_path, STRONG), {}, tmp_path)
    assert found == ["ch99_double_test: no hard-coded forgery in HARDCODED"]


def test_grade_cell_needing_a_tutorial_global_is_reported(tmp_path):
    """Is a grade cell that leans on a name outside Setup and the answers reported?"""
    path = chapter(tmp_path, STRONG + "\nassert tutorial_global == 1")
    found = problems(path, HARDCODED, tmp_path)
    assert any("self-contained" in p and "tutorial_global" in p for p in found), found
