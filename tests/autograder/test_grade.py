"""Tests of ``python -m autograder grade``: scores, statuses and bounded time for a whole class.

The class (see ``conftest.graded_class``) is built from the real chapters and graded in one
``--workers 2`` batch; a tiny fixture chapter covers what needs exact control.
"""

from __future__ import annotations

import html
import json
import re
import time

import cases  # noqa: E402
import nbformat
import pytest
from conftest import (
    CELL_TIMEOUT,
    CHAPTERS,
    FIXTURE_SOURCE,
    NOTEBOOK_TIMEOUT,
    read_csv,
    run_autograder,
)

from autograder.results import COLUMNS

pytestmark = pytest.mark.skipif(not CHAPTERS, reason="no chapter notebooks yet")


def chapter_max(stem: str) -> float:
    path = next(p for p in CHAPTERS if p.stem == stem)
    nb = nbformat.read(str(path), as_version=4)
    return sum(float(c.metadata.nbgrader["points"]) for c in cases.grade_cells(nb))


def row_of(graded, student):
    stem = graded["made"][student]
    row = graded["rows"][(student, stem)]
    return row, stem


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_one_solved_exercise_gets_partial_marks(graded_class, chapter):
    """Does a blank copy with only the first exercise solved score exactly that exercise's points?"""
    row = graded_class["rows"][(f"partial-{chapter.stem}", chapter.stem)]
    first_test = cases.grade_cells(nbformat.read(str(chapter), as_version=4))[0]
    assert row["status"] == "ok", row
    assert float(row["score"]) == float(first_test.metadata.nbgrader["points"]), row
    assert float(row["max_score"]) == chapter_max(chapter.stem)


def test_tampered_grade_cells_are_restored(graded_class):
    """Is a grade cell whose source, points or cell type a student changed graded as the instructor wrote it?"""
    row, stem = row_of(graded_class, "tampered")
    assert row["status"] == "ok", row
    assert float(row["score"]) == 0, row  # `pass` instead of the checks would have scored
    assert float(row["max_score"]) == chapter_max(stem)  # not the 100 points the student set
    assert "restored" in row["message"] and "points" in row["message"]


def test_deleted_grade_cell_is_reinserted(graded_class):
    """Is a deleted grade cell put back and graded, so a correct answer still gets full marks?"""
    row, stem = row_of(graded_class, "deleted")
    assert (row["status"], float(row["score"])) == ("ok", chapter_max(stem)), row
    assert "re-inserted" in row["message"]


def test_duplicated_grade_cell_affects_only_that_student(graded_class):
    """Is a pasted copy of a grade cell (outdated metadata, failing code) ignored instead of aborting the batch?"""
    row, stem = row_of(graded_class, "duplicated")
    assert (row["status"], float(row["score"])) == ("ok", chapter_max(stem)), row
    assert "extra copy" in row["message"]


def test_extra_grade_cell_earns_nothing(graded_class):
    """Does a cell claiming an unknown grade id and 100 points leave score and max score unchanged?"""
    row, stem = row_of(graded_class, "extra")
    assert (row["status"], float(row["score"]), float(row["max_score"])) == (
        "ok",
        chapter_max(stem),
        chapter_max(stem),
    )
    assert "unknown id" in row["message"]


def test_os_exit_reports_kernel_died(graded_class):
    """Does `os._exit` in a cell end that notebook with status kernel_died and no points for cells that never ran?"""
    row, _ = row_of(graded_class, "os_exit")
    assert (row["status"], float(row["score"])) == ("kernel_died", 0), row


def test_infinite_loop_is_interrupted_and_grading_goes_on(graded_class):
    """Is an infinite loop interrupted at the cell time limit, with the later exercises still graded?"""
    row, stem = row_of(graded_class, "infinite_loop")
    assert row["status"] == "timeout" and "time limit" in row["message"], row
    assert float(row["score"]) == chapter_max(stem)


def test_loop_ignoring_interrupts_is_killed(graded_class):
    """Is a loop that swallows KeyboardInterrupt killed, scoring 0 for the cells that never ran?"""
    row, _ = row_of(graded_class, "stubborn_loop")
    assert (row["status"], float(row["score"])) == ("timeout", 0), row
    assert "killed" in row["message"]


def test_huge_print_is_capped(graded_class):
    """Does a 200 MB print leave a correct notebook at full marks with a small report?"""
    row, stem = row_of(graded_class, "huge_print")
    assert (row["status"], float(row["score"])) == ("ok", chapter_max(stem)), row
    report = graded_class["feedback"] / "huge_print" / f"{stem}.html"
    assert report.stat().st_size < 2_000_000
    assert "output truncated" in report.read_text(encoding="utf-8")
    assert graded_class["csv"].stat().st_size < 100_000


def test_stderr_warning_does_not_zero_a_correct_answer(graded_class):
    """Does a harmless warning on stderr in every grade cell leave full marks?"""
    row, stem = row_of(graded_class, "stderr_warning")
    assert (row["status"], float(row["score"])) == ("ok", chapter_max(stem)), row


def test_malformed_json_is_an_error_row(graded_class):
    """Does a truncated .ipynb get status error with a readable message?"""
    row, _ = row_of(graded_class, "malformed")
    assert row["status"] == "error" and "JSON" in row["message"] and "line 1" in row["message"], row


def test_unknown_notebook_is_reported(graded_class):
    """Does a file named after no chapter get status unknown_notebook?"""
    row = graded_class["rows"][("unknown", "99_not_a_chapter")]
    assert row["status"] == "unknown_notebook" and "matches no chapter" in row["message"]


def test_every_submission_has_one_row_sorted(graded_class):
    """Does the CSV have the documented columns, one row per submission, sorted by student and notebook?"""
    text = graded_class["csv"].read_text(encoding="utf-8").splitlines()
    assert text[0].startswith("student_id,notebook,score,max_score,status,message")
    assert text[0] == ",".join(COLUMNS)
    keys = list(graded_class["rows"])
    assert keys == sorted(keys)
    assert len(keys) == len(CHAPTERS) + len(graded_class["made"]) + 1


def test_per_cell_json_and_gradebook_match_the_csv(graded_class):
    """Do the per-cell JSON and the default SQLite gradebook next to the CSV hold every row's
    score, for every status (timeouts, dead kernels, broken files included)?"""
    from nbgrader.api import Gradebook

    doc = json.loads(graded_class["csv"].with_suffix(".json").read_text(encoding="utf-8"))
    results = {(r["student_id"], r["notebook"]): r for r in doc["results"]}
    assert set(results) == set(graded_class["rows"])
    db = f"sqlite:///{graded_class['csv'].parent / 'gradebook.db'}"
    with Gradebook(db, course_id="keras-deep-dive") as gb:
        for key, row in graded_class["rows"].items():
            cells = results[key]["cells"]
            assert sum(c["score"] for c in cells) == float(row["score"]), (key, cells)
            if row["status"] == "unknown_notebook":
                assert cells == []
                continue
            assert (
                sum(c["max_score"] for c in cells) == float(row["max_score"]) == chapter_max(key[1])
            )
            assert gb.find_submission(key[1], key[0]).score == float(row["score"]), key


def test_batch_time_is_bounded(graded_class):
    """Does the whole class finish in bounded time despite the loops (limits: cell, notebook, kill)?"""
    n_jobs = len(graded_class["rows"])
    bound = n_jobs * 60 / 2 + 2 * (CELL_TIMEOUT + 10)
    assert graded_class["wall"] < min(bound, NOTEBOOK_TIMEOUT * 3), graded_class["wall"]


# --- the tiny fixture chapter (class graded in conftest.fixture_grades) ---------------------


def test_one_and_two_workers_give_the_same_csv(fixture_grades):
    """Is the CSV byte-identical with one worker and with two?"""
    assert fixture_grades[1].read_bytes() == fixture_grades[2].read_bytes()


def test_fixture_scores_and_small_size(fixture_grades):
    """Do instructor, blank and hidden-test-failing answers score 3, 0 and 1, at small size even with COURSE_SIZE=full inherited?"""
    rows = read_csv(fixture_grades[2])
    scores = {k[0]: (float(r["score"]), r["status"]) for k, r in rows.items()}
    assert scores == {
        "full": (3, "ok"),
        "blank": (0, "ok"),
        "hidden_fail": (1, "ok"),
        "malformed": (0, "error"),
    }


def test_notebook_deadline_stops_a_slow_notebook(tmp_path, release):
    """Does the per-notebook deadline stop a notebook whose cells each stay under the cell limit,
    also inside hidden tests, without naming their code?"""
    source = nbformat.read(str(FIXTURE_SOURCE / "90_tiny.ipynb"), as_version=4)
    subs = tmp_path / "subs"
    cases.write(
        cases.inject(source, "import time\ntime.sleep(10_000)"), subs / "slow" / "90_tiny.ipynb"
    )
    hidden_loop = nbformat.read(str(FIXTURE_SOURCE / "90_tiny.ipynb"), as_version=4)
    for cell in hidden_loop.cells:
        if cases.nbg(cell).get("grade_id") == "ch90_double":
            # Passes the visible check (x = 3.0), loops in the hidden one (x = -1.5).
            cell.source = (
                "def double(x):\n    while x < 0:\n        pass\n    return tf.constant(x) * 2"
            )
    cases.write(hidden_loop, subs / "hidden_loop" / "90_tiny.ipynb")
    started = time.monotonic()
    proc = run_autograder(
        "grade", str(subs), "--out", str(tmp_path / "g.csv"), "--source", str(FIXTURE_SOURCE),
        "--feedback", str(tmp_path / "feedback"), "--workers", "2",
        "--cell-timeout", "600", "--timeout", "30",
    )  # fmt: skip
    wall = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_csv(tmp_path / "g.csv")
    for student in ("slow", "hidden_loop"):
        row = rows[(student, "90_tiny")]
        # The probes of a grade cell run right after it: the loop in ch90_double_test's hidden
        # test reaches the deadline before ch90_size_test runs, so both score 0.
        assert (row["status"], float(row["score"])) == ("timeout", 0.0), row
        assert "deadline" in row["message"], row
    message = rows[("hidden_loop", "90_tiny")]["message"]
    assert "(hidden tests)" in message and "double(-1.5)" not in message, message
    raw = (tmp_path / "feedback" / "hidden_loop" / "90_tiny.html").read_text(encoding="utf-8")
    report = html.unescape(re.sub(r"<[^>]+>", "", raw))  # highlighting splits code into spans
    assert "double(-1.5)" not in report and "SECRET_HIDDEN_MARKER" not in report
    assert wall < 600, wall  # stopped by the 30 s deadline, not by the 600 s cell limit
