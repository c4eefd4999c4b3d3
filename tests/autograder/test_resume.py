"""Resume (issue 17): ``kill -9`` the grader mid-class, run the same command again, and get the
CSV, the per-cell JSON and the gradebook of an uninterrupted run, grading only what was missing.
A journal entry is reused only for the same inputs; a damaged one is graded again with a warning.

Graded on the tiny fixture chapter (a few seconds per notebook), with the real ``grade`` command.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from unittest import mock

import cases
import nbformat
import pytest
from conftest import FIXTURE_SOURCE, REPO
from nbgrader.api import Gradebook
from traitlets.config import Config

from autograder.journal import Journal, journal_dir
from autograder.release import Release
from autograder.version import code_version

TINY = FIXTURE_SOURCE / "90_tiny.ipynb"
STUDENTS = ("ann", "bob", "cat", "dan")


def _class(root):
    """Four students: full (3 points), blank (0), partial (the 2-point exercise), full; their notebooks under ``root/subs``."""
    instructor = nbformat.read(str(TINY), as_version=4)
    blank = nbformat.reads(Release().render(TINY), as_version=4)
    kinds = {
        "ann": instructor,
        "bob": blank,
        "cat": cases.partial(instructor, blank),
        "dan": instructor,
    }
    for student, nb in kinds.items():
        cases.write(nb, root / "subs" / student / "90_tiny.ipynb")
    return root / "subs"


def _command(subs, out, *extra):
    return [
        sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out),
        "--source", str(FIXTURE_SOURCE), "--workers", "1", "--no-progress",
        "--db", f"sqlite:///{out.parent / 'gradebook.db'}", "--course", "none", *extra,
    ]  # fmt: skip


def _grade(subs, out, *extra):
    proc = subprocess.run(
        _command(subs, out, *extra), cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _resumed(stderr: str) -> int:
    m = re.search(r"resumed (\d+) of (\d+) notebooks", stderr)
    return int(m.group(1)) if m else 0


def _scores(db_path):
    with Gradebook(f"sqlite:///{db_path}", course_id="keras-deep-dive") as gb:
        return {s: gb.find_submission("90_tiny", s).score for s in STUDENTS}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("uninterrupted")
    subs = _class(root)
    out = root / "out" / "grades.csv"
    out.parent.mkdir()
    _grade(subs, out)
    return subs, out


def test_kill_9_then_rerun_equals_an_uninterrupted_run(tmp_path, uninterrupted):
    subs = _class(tmp_path)
    out = tmp_path / "out" / "grades.csv"
    out.parent.mkdir()
    journal = journal_dir(out)
    proc = subprocess.Popen(
        _command(subs, out), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 600
        while not list(journal.rglob("*.json")):
            assert proc.poll() is None, "the grader ended before it journaled anything"
            assert time.monotonic() < deadline, "nothing journaled in 10 minutes"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # kill -9: no cleanup, no CSV
        proc.wait()
    assert not out.exists(), "the killed run must not have written the CSV"
    journaled = len(list(journal.rglob("*.json")))
    assert 1 <= journaled < len(STUDENTS)

    rerun = _grade(subs, out)
    assert _resumed(rerun.stderr) == journaled, rerun.stderr[-2000:]
    ref_subs, ref_out = uninterrupted
    assert out.read_bytes() == ref_out.read_bytes()
    assert out.with_suffix(".json").read_bytes() == ref_out.with_suffix(".json").read_bytes()
    assert _scores(out.parent / "gradebook.db") == _scores(ref_out.parent / "gradebook.db")
    # Full, blank, partial, full: the grades themselves are right, not just equal.
    assert [_scores(out.parent / "gradebook.db")[s] for s in STUDENTS] == [3, 0, 2, 3]


def test_a_journal_is_reused_only_for_the_same_inputs(tmp_path, uninterrupted):
    ref_subs, ref_out = uninterrupted
    subs, out = tmp_path / "subs", tmp_path / "out" / "grades.csv"
    shutil.copytree(ref_subs, subs)
    shutil.copytree(ref_out.parent, out.parent)  # the CSV, its JSON, gradebook and journal
    first = out.read_bytes()

    again = _grade(subs, out)  # nothing changed: everything comes from the journal
    assert _resumed(again.stderr) == len(STUDENTS)
    assert out.read_bytes() == first

    # A changed submission (bob answers now) and a damaged entry (cat) are graded again.
    nbformat.write(nbformat.read(str(TINY), as_version=4), str(subs / "bob" / "90_tiny.ipynb"))
    (journal_dir(out) / "cat" / "90_tiny.json").write_text('{"format": "keras-deep', "utf-8")
    changed = _grade(subs, out)
    assert _resumed(changed.stderr) == 2, changed.stderr[-2000:]  # ann and dan
    assert "is damaged" in changed.stderr and "cat/90_tiny is graded again" in changed.stderr
    rows = {line.split(",")[0]: line.split(",") for line in out.read_text().splitlines()[1:]}
    assert [rows[s][2] for s in STUDENTS] == ["3", "3", "2", "3"]


def _job(student="ann"):
    return {
        "student_id": student,
        "notebook": "90_tiny",
        "path": str(TINY),
        "source": str(TINY),
        "expected": None,
        "feedback": None,
        "course": None,
    }


def test_another_configuration_or_version_never_reuses_an_entry(tmp_path):
    """Other limits, another calibration of the chapter or another grader version: another key.
    Workers and the progress bar never change a row, so they keep the key."""
    folder = tmp_path / "grades.journal"
    base = Config()
    journal = Journal(folder, base)
    journal.record(_job(), {"student_id": "ann", "notebook": "90_tiny", "status": "ok", "score": 3})
    assert journal.load(_job())["score"] == 3
    assert journal.load(_job("bob")) is None

    neutral = Config()
    neutral.GradeRunner.workers = 7
    neutral.GradeRunner.progress = False
    assert Journal(folder, neutral).load(_job())["score"] == 3

    limits = Config()
    limits.ExecuteGraded.cell_timeout = 77.0
    assert Journal(folder, limits).load(_job()) is None

    whole = Config()  # --whole: every cell runs, not the execution plan
    whole.PlanCells.whole = True
    assert Journal(folder, whole).load(_job()) is None

    # The chapter's calibration is part of the job's key: re-measured, the limits may differ.
    # Where the timings file is, is not.
    calibrated = {**_job("cat"), "timings": {"cells": {"ch90_double": 0.1}, "total": 4.0}}
    journal.record(calibrated, {"student_id": "cat", "notebook": "90_tiny", "status": "ok"})
    assert journal.load(calibrated) is not None
    elsewhere = Config()
    elsewhere.ExecuteGraded.timings_file = str(tmp_path / "timings.json")
    assert Journal(folder, elsewhere).load(calibrated) is not None
    remeasured = {**calibrated, "timings": {"cells": {"ch90_double": 0.2}, "total": 4.0}}
    assert journal.load(remeasured) is None

    code_version.cache_clear()
    try:
        with mock.patch("autograder.journal.code_version", return_value="another grader"):
            assert Journal(folder, base).load(_job()) is None
    finally:
        code_version.cache_clear()

    assert Journal(folder, base, fresh=True).load(_job()) is None
    assert not folder.exists()
