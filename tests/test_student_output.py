"""What a student sees: check cells print one Chinese line and show no ``Out:`` value, and the
Setup cell checks versions before anything imports TensorFlow or Keras (issue 19)."""

from __future__ import annotations

import ast
import subprocess
import sys
import typing

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import nbformat
import pytest
from nbexec import NOTEBOOKS, REPO, chapter_notebooks, execute

from course_utils import checks

RELEASE = REPO / "autograder" / "release"
HEAVY = {"tensorflow", "keras"}


def _copies() -> list:
    """Every chapter's instructor copy and its student copy."""
    paths = []
    for path in chapter_notebooks():
        paths += [path, RELEASE / path.stem / path.name]
    return paths


def _ids(path) -> str:
    return f"{path.parent.name}/{path.name}"


def _grade_cells(nb) -> list:
    return [
        c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    ]


def test_import_course_utils_loads_no_tensorflow_or_keras():
    """Does what the Setup cell imports before require() (course_utils, checks, plots) leave
    TensorFlow and Keras unimported, so require() can speak before a broken install fails?"""
    code = (
        "import sys\nimport course_utils\nfrom course_utils import checks, plots\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("path", _copies(), ids=_ids)
def test_setup_cell_requires_versions_before_importing_tensorflow(path):
    """In the locked Setup cell, does course_utils.require(...) run before any TensorFlow or
    Keras import?"""
    nb = nbformat.read(path, as_version=4)
    (setup,) = [
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_setup")
    ]
    body = ast.parse(setup.source).body

    def requires(node) -> bool:
        call = node.value if isinstance(node, ast.Expr) else None
        return isinstance(call, ast.Call) and ast.unparse(call.func) == "course_utils.require"

    def heavy(node) -> bool:
        if isinstance(node, ast.Import):
            return any(a.name.split(".")[0] in HEAVY for a in node.names)
        return isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in HEAVY

    first_require = next(i for i, node in enumerate(body) if requires(node))
    first_heavy = next(i for i, node in enumerate(body) if heavy(node))
    assert first_require < first_heavy, setup.source


def test_every_public_check_is_annotated_to_return_none():
    """Is every public checks.check_* declared to return None (a value would show as Out:)?"""
    wrong = [
        name
        for name in checks.__all__
        if name.startswith("check_")
        and typing.get_type_hints(getattr(checks, name)).get("return") is not type(None)
    ]
    assert wrong == []


@pytest.mark.parametrize("path", [RELEASE / p.stem / p.name for p in chapter_notebooks()], ids=_ids)
def test_student_grade_cells_end_in_a_check_call(path):
    """In each student copy, does every grade cell end in a statement that shows no value:
    a checks.check_*(...) call (they return None), or no expression at all?"""
    nb = nbformat.read(path, as_version=4)
    public = {n for n in checks.__all__ if n.startswith("check_")}
    wrong = []
    for cell in _grade_cells(nb):
        assert forgery.HIDDEN_BEGIN not in cell.source, "hidden tests in a student copy"
        last = ast.parse(cell.source).body[-1]
        if not isinstance(last, ast.Expr):
            continue
        func = last.value.func if isinstance(last.value, ast.Call) else None
        name = ast.unparse(func) if func is not None else ""
        if not (name.startswith("checks.") and name.removeprefix("checks.") in public):
            wrong.append(f"{cell.metadata.nbgrader['grade_id']}: {ast.unparse(last)[:80]}")
    assert wrong == []


def test_chapter_00_check_cells_show_one_line_and_no_out(tmp_path):
    """Run chapter 00 as a student who solved it sees it (Setup, answers, the visible grade
    cells): does every check cell print exactly one ✅ line and show no Out: value?"""
    nb = nbformat.read(NOTEBOOKS / "00_tensors_autodiff.ipynb", as_version=4)
    setup, found = forgery.exercises(nb)
    run = nbformat.v4.new_notebook(metadata=nb.metadata)
    run.cells = [nbformat.v4.new_code_cell(c.source) for c in setup]
    for answers, grade in found:
        run.cells += [nbformat.v4.new_code_cell(a.source) for a in answers]
        visible = grade.source.partition(forgery.HIDDEN_BEGIN)[0].rstrip()
        cell = nbformat.v4.new_code_cell(visible)
        cell.metadata["grade_id"] = grade.metadata.nbgrader["grade_id"]
        run.cells.append(cell)
    execute(None, cwd=tmp_path, nb=run, timeout=300)
    graded = [c for c in run.cells if "grade_id" in c.metadata]
    assert len(graded) == len(found) >= 1
    for cell in graded:
        kinds = [o["output_type"] for o in cell.outputs]
        assert "execute_result" not in kinds, (cell.metadata["grade_id"], cell.outputs)
        text = "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")
        lines = [line for line in text.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("✅ "), (cell.metadata["grade_id"], text)
