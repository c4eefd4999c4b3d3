"""Writing grades into nbgrader's gradebook (``autograder.gradebook``), and the per-cell rows
it is written from. No kernel: the rows are what a grading worker returns.

The end-to-end proofs (two shards grading at once into a PostgreSQL server, stock
``nbgrader export`` equal to our CSV) are in ``test_shard.py``.
"""

from __future__ import annotations

import multiprocessing

import pytest
from conftest import FIXTURE_SOURCE
from nbgrader.api import Gradebook, MissingEntry

from autograder.gradebook import complete_cells, finish_row, write_gradebook

SOURCES = {"90_tiny": FIXTURE_SOURCE / "90_tiny.ipynb"}
POINTS = {"ch90_double_test": 2.0, "ch90_size_test": 1.0}
COURSE = "keras-deep-dive"


def _row(student, double=2.0, size=1.0, status="ok", notebook="90_tiny"):
    cells = [
        {"grade_id": "ch90_double_test", "score": double, "max_score": 2.0, "status": "passed"},
        {"grade_id": "ch90_size_test", "score": size, "max_score": 1.0, "status": "passed"},
    ]
    return {
        "student_id": student,
        "notebook": notebook,
        "score": double + size,
        "max_score": 3.0,
        "status": status,
        "message": "",
        "cells": cells,
    }


def test_rows_become_nbgrader_grades(tmp_path):
    """Are chapters, cells, students and per-cell auto scores stored as nbgrader stores them?"""
    db = f"sqlite:///{tmp_path / 'gb.db'}"
    rows = [
        _row("ann"),
        _row("bob", double=0.0),
        _row("cid", notebook="99_x", status="unknown_notebook"),
    ]
    assert write_gradebook(db, rows, SOURCES, COURSE) == 2
    with Gradebook(db, course_id=COURSE) as gb:
        assert [a.name for a in gb.assignments] == ["90_tiny"]
        nb = gb.find_notebook("90_tiny", "90_tiny")
        assert {c.name: c.max_score for c in nb.grade_cells} == POINTS
        assert {c.name for c in nb.solution_cells} == {"ch90_double", "ch90_size"}
        assert gb.find_submission("90_tiny", "ann").score == 3
        assert gb.find_submission("90_tiny", "bob").score == 1
        grade = gb.find_grade("ch90_double_test", "90_tiny", "90_tiny", "bob")
        assert (grade.auto_score, grade.needs_manual_grade) == (0.0, False)
        assert {s.id for s in gb.students} == {"ann", "bob"}  # cid's unknown file is not graded


def test_regrading_updates_and_keeps_manual_scores(tmp_path):
    """Does a second run update auto scores in place, keep a grader's manual score, and turn a
    submission that disappeared (now `missing`) into no submission (export: 0)?"""
    db = f"sqlite:///{tmp_path / 'gb.db'}"
    write_gradebook(db, [_row("ann", double=0.0), _row("bob")], SOURCES, COURSE)
    with Gradebook(db, course_id=COURSE) as gb:
        gb.find_grade("ch90_size_test", "90_tiny", "90_tiny", "ann").manual_score = 0.5
        gb.db.commit()
    missing = dict(_row("bob", 0.0, 0.0), status="missing", cells=[])
    write_gradebook(db, [_row("ann"), missing], SOURCES, COURSE)
    with Gradebook(db, course_id=COURSE) as gb:
        ann = gb.find_submission("90_tiny", "ann")
        assert ann.score == 2.5  # double now 2 (auto), size 0.5 (manual kept)
        with pytest.raises(MissingEntry):
            gb.find_submission("90_tiny", "bob")
        assert gb.find_student("bob")


def _write_half(db, students):
    write_gradebook(db, [_row(s, double=float(len(s) % 3)) for s in students], SOURCES, COURSE)


def test_concurrent_writers_on_sqlite(tmp_path):
    """Do four processes creating and filling one new SQLite gradebook at once all land?"""
    db = f"sqlite:///{tmp_path / 'gb.db'}"
    groups = [[f"s{g}-{i}" for i in range(6)] for g in range(4)]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_half, args=(db, g)) for g in groups]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with Gradebook(db, course_id=COURSE) as gb:
        for group in groups:
            for s in group:
                assert gb.find_submission("90_tiny", s).score == float(len(s) % 3) + 1


def test_max_score_is_the_instructors_when_a_cell_is_missing():
    """With a deleted grade cell not re-inserted (reinsert_missing=False) the grader scores
    fewer cells: is max_score still the chapter's, the absent cell listed as missing with 0?"""
    job = {"student_id": "ann", "notebook": "90_tiny", "source": str(SOURCES["90_tiny"])}
    scored = [{"grade_id": "ch90_size_test", "score": 1.0, "max_score": 1.0, "status": "passed"}]
    row = {"student_id": "ann", "notebook": "90_tiny", "score": 1.0, "max_score": 1.0,
           "status": "ok", "message": "", "seconds": 4.2}  # fmt: skip
    row = finish_row(row, job, scored)
    assert row["max_score"] == 3.0 and "seconds" not in row
    assert row["cells"] == [
        {"grade_id": "ch90_double_test", "score": 0.0, "max_score": 2.0, "status": "missing",
         "message": ""},
        {"grade_id": "ch90_size_test", "score": 1.0, "max_score": 1.0, "status": "passed",
         "message": ""},
    ]  # fmt: skip
    # a cell the student invented is not a chapter cell and earns nothing
    cells = complete_cells(POINTS, scored + [{"grade_id": "bonus", "score": 100}], "missing")
    assert [c["grade_id"] for c in cells] == list(POINTS)
    # nothing scored at all (unreadable file): every cell not_run
    unread = {k: v for k, v in row.items() if k != "cells"}
    assert {c["status"] for c in finish_row(unread, job, None)["cells"]} == {"not_run"}


def test_unreachable_gradebook_fails_loudly_after_the_csv(tmp_path):
    """Does a gradebook that cannot be written exit 1 with an English error, the CSV and JSON
    already written, and the database password not shown?"""
    from conftest import run_autograder

    (tmp_path / "subs" / "ann").mkdir(parents=True)
    (tmp_path / "subs" / "ann" / "90_tiny.ipynb").write_text("not json", encoding="utf-8")
    url = f"postgresql+psycopg2://grader:s3cret@127.0.0.1:{_closed_port()}/gradebook"
    proc = run_autograder(
        "grade", str(tmp_path / "subs"), "--out", str(tmp_path / "g.csv"),
        "--source", str(FIXTURE_SOURCE), "--db", url, "--no-progress",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "grades written to" in proc.stderr and "could not be written" in proc.stderr
    assert "s3cret" not in proc.stderr + proc.stdout
    assert (tmp_path / "g.csv").exists() and (tmp_path / "g.json").exists()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed
