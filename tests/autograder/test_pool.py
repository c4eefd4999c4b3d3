"""Tests of the grading pool itself (no kernels): the parent's hard deadline and crash handling."""

from __future__ import annotations

import os
import time
from pathlib import Path

from traitlets.config import Config

from autograder import execute
from autograder.grade import GradeRunner
from autograder.reference import References
from autograder.results import COLUMNS, csv_text


def _fake_grade(self, job, on_kernel_start=None, workdir=None):
    if job["student_id"] == "hang":
        time.sleep(3600)
    if job["student_id"] == "crash":
        os._exit(3)
    return {
        "student_id": job["student_id"],
        "notebook": job["notebook"],
        "score": 1.0,
        "max_score": 1.0,
        "status": "ok",
        "message": "",
    }


def test_stuck_worker_is_killed_and_others_are_graded(monkeypatch, tmp_path):
    """Is a worker stuck past the notebook deadline killed, a crashed one reported, and every other student still graded?"""
    monkeypatch.setattr(execute.NotebookGrader, "grade", _fake_grade)
    # No instructor notebook here: the expected values are "ready" (the fake grade ignores them).
    monkeypatch.setattr(
        References, "ensure", lambda self, sources, parallel=1: ({"x": Path("x.json")}, {})
    )
    parent, built = os.getpid(), []
    real_init = execute.NotebookGrader.__init__

    def counting_init(self, **kw):
        built.append(os.getpid())
        real_init(self, **kw)

    monkeypatch.setattr(execute.NotebookGrader, "__init__", counting_init)
    config = Config()
    config.ExecuteGraded.notebook_timeout = 1.0
    # The parent's hard deadline is the notebook limit's wall-clock backstop for each run a
    # notebook may need (under the execution plan: the plan, then a whole rerun), plus
    # kill_grace.
    assert GradeRunner(config=config).hard_deadline() == 2 * (4.0 * 1.0 + 60.0) + 30.0
    config.PlanCells.whole = True  # --whole: one run
    assert GradeRunner(config=config).hard_deadline() == 4.0 * 1.0 + 60.0 + 30.0
    config.ExecuteGraded.clock = "wall"  # no backstop: the hard deadline is 1 s + kill_grace
    config.GradeRunner.kill_grace = 1.0
    assert GradeRunner(config=config).hard_deadline() == 2.0
    config.ExecuteGraded.calibrate_cells = False  # fixed limits: no instructor run to measure
    config.ExecuteGraded.calibrate_notebook = False
    config.GradeRunner.workers = 2
    config.GradeRunner.progress = False
    students = ["a", "hang", "b", "crash", "c", "d"]
    jobs = [
        {
            "student_id": s,
            "notebook": "00_x",
            "path": "x",
            "source": "x",
            "feedback": None,
            "points": {"x_test": 2.0, "y_test": 1.0},
        }
        for s in students
    ]
    started = time.monotonic()
    rows = GradeRunner(config=config).run(jobs)
    assert time.monotonic() - started < 30
    # Rows for a killed or crashed worker come from the job, without a grader in the parent.
    assert parent not in built
    failed = {r["student_id"]: r for r in rows if r["status"] != "ok"}
    for row in failed.values():
        assert row["max_score"] == 3.0 and row["score"] == 0.0
        assert [(c["grade_id"], c["status"]) for c in row["cells"]] == [
            ("x_test", "not_run"),
            ("y_test", "not_run"),
        ]
    status = {r["student_id"]: r["status"] for r in rows}
    assert status == {
        "a": "ok",
        "b": "ok",
        "c": "ok",
        "d": "ok",
        "hang": "timeout",
        "crash": "error",
    }


def test_csv_does_not_depend_on_completion_order():
    """Is the CSV the same whatever order the workers finish in?"""
    rows = [
        {
            "student_id": s,
            "notebook": n,
            "score": 1.5,
            "max_score": 2,
            "status": "ok",
            "message": "m, with comma",
        }
        for s in ("b", "a")
        for n in ("01_y", "00_x")
    ]
    assert csv_text(rows) == csv_text(list(reversed(rows)))
    extra = "," * (len(COLUMNS) - 6)  # columns after `message` (sandbox) are empty here
    assert csv_text(rows).splitlines()[1] == 'a,00_x,1.5,2,ok,"m, with comma"' + extra


def test_expected_values_another_grader_computed_while_we_waited(monkeypatch, tmp_path):
    """Two gradings of one chapter at once: the second waits for the first's lock on the
    reference cache and then finds the values there. It must take them, not start a kernel
    (and not fail with nothing left to wait for)."""
    from autograder import reference

    source = Path(__file__).resolve().parent / "fixtures" / "source" / "90_tiny.ipynb"
    refs = References(cache_dir=str(tmp_path))
    path = refs.path(source)
    real_lock = reference._lock

    def lock_while_the_other_finishes(p):
        fh = real_lock(p)
        path.write_text("{}", encoding="utf-8")  # the other grading's result, written meanwhile
        return fh

    monkeypatch.setattr(reference, "_lock", lock_while_the_other_finishes)
    monkeypatch.setattr(
        reference.subprocess, "Popen", lambda *a, **k: (_ for _ in ()).throw(AssertionError)
    )
    ready, failed = refs.ensure([source])
    assert ready == {"90_tiny": path} and failed == {}
