"""The execution plan through the real ``grade`` command, on the small fixture chapter
``fixtures/plan/92_plan.ipynb``: its answers use a tutorial variable, a file a tutorial cell
wrote and a tutorial object a later cell mutated, and one tutorial cell is slow and unused.

Fairness is the invariant: under the plan no student scores lower than with ``--whole``."""

from __future__ import annotations

import copy
import json
import shutil

import cases
import nbformat
import pytest
from conftest import HERE, read_csv, run_autograder

SOURCE = HERE / "fixtures" / "plan"
CHAPTER = "92_plan"
SLOW_CELL = 12  # 1-based number of the slow tutorial cell no exercise needs


def _answered(nb, answers: dict[str, str]):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cases.nbg(cell).get("grade_id") in answers:
            cell.source = answers[cases.nbg(cell)["grade_id"]]
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory, release):
    """The class graded with the plan, then with ``--whole`` into the same CSV (the journal must
    not hand the plan's rows to the whole run)."""
    root = tmp_path_factory.mktemp("plan")
    path = SOURCE / f"{CHAPTER}.ipynb"
    source = nbformat.read(str(path), as_version=4)
    blank = nbformat.reads(release.render(path), as_version=4)
    solutions = {
        cases.nbg(c)["grade_id"]: c.source for c in source.cells if cases.nbg(c).get("solution")
    }
    students = {
        "full": source,
        "blank": blank,
        "partial": _answered(blank, {"ch92_scaled": solutions["ch92_scaled"]}),
        "wrong": _answered(source, {"ch92_last": "def last_entry():\n    return history[0] + 1"}),
        "dynamic": _answered(
            source, {"ch92_scaled": 'exec("def scaled(x):\\n    return weights * x")'}
        ),
    }
    for name, nb in students.items():
        cases.write(nb, root / "subs" / name / f"{CHAPTER}.ipynb")
    out, results = {}, {}
    csv_path = root / "out" / "grades.csv"
    for mode in ("plan", "whole"):
        args = ["grade", str(root / "subs"), "--out", str(csv_path), "--source", str(SOURCE)]
        args += ["--workers", "2", "--no-progress", "--db", "none", "--course", "none"]
        args += ["--feedback", str(root / mode)] + (["--whole"] if mode == "whole" else [])
        proc = run_autograder(*args, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "resumed" not in proc.stderr
        out[mode] = read_csv(csv_path)
        data = json.loads(csv_path.with_suffix(".json").read_text(encoding="utf-8"))
        results[mode] = {r["student_id"]: r for r in data["results"]}
        shutil.copy(csv_path, root / f"{mode}.csv")
    return {"rows": out, "results": results, "root": root}


def test_the_plan_never_scores_lower_and_here_scores_the_same(graded):
    """Does every student score the same under the plan as with --whole (CSV byte-identical)?"""
    plan, whole = graded["rows"]["plan"], graded["rows"]["whole"]
    assert {k[0]: r["score"] for k, r in plan.items()} == {
        "blank": "0",
        "dynamic": "3",
        "full": "3",
        "partial": "1",
        "wrong": "2",
    }
    for key, row in whole.items():
        assert float(plan[key]["score"]) >= float(row["score"])
    root = graded["root"]
    assert (root / "plan.csv").read_bytes() == (root / "whole.csv").read_bytes()


def test_a_correct_answer_runs_only_the_tutorial_cells_it_needs(graded):
    """Does the plan run the variable, file and mutated-object cells and skip the slow one?"""
    full = graded["results"]["plan"]["full"]
    assert full["run"] == "plan" and full["skipped_cells"] == [SLOW_CELL]
    report = (graded["root"] / "plan" / "full" / f"{CHAPTER}.html").read_text(encoding="utf-8")
    assert "graded with the execution plan" in report and "not run when grading" in report


def test_blank_answers_need_no_rerun_but_wrong_ones_do(graded):
    """Is a blank stub's NotImplementedError accepted under the plan, and a wrong answer rerun?"""
    results = graded["results"]["plan"]
    assert results["blank"]["run"] == results["partial"]["run"] == "plan"
    assert results["wrong"]["run"] == "whole (rerun after grade cell ch92_last_test failed)"
    assert results["wrong"]["skipped_cells"] == []


def test_exec_in_an_answer_runs_the_whole_notebook_and_says_so(graded):
    """Does a student's exec() make the whole notebook run, with the reason in the results?"""
    dynamic = graded["results"]["plan"]["dynamic"]
    assert dynamic["run"] == "whole (cell 14 uses exec())"
    assert dynamic["status"] == "flagged"


def test_whole_runs_everything_and_the_journal_keeps_the_modes_apart(graded):
    """Does --whole run every cell for everyone, without reusing the plan's journaled rows?"""
    for student, row in graded["results"]["whole"].items():
        assert row["run"] == "whole (--whole)", student
        assert row["skipped_cells"] == []
    report = (graded["root"] / "whole" / "full" / f"{CHAPTER}.html").read_text(encoding="utf-8")
    assert "graded by running the whole notebook" in report
