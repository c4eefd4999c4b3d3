"""Tests of ``python -m autograder check``: the gate every chapter must pass."""

from __future__ import annotations

import shutil

import nbformat
import pytest
from conftest import CHAPTERS, FIXTURE_SOURCE, run_autograder

pytestmark = pytest.mark.skipif(not CHAPTERS, reason="no chapter notebooks yet")


def test_every_chapter_scores_full_marks_and_blank_zero(check_run):
    """Does every instructor notebook get full marks and every blank student copy 0?"""
    proc, table = check_run["proc"], check_run["table"]
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    for chapter in CHAPTERS:
        line = next(line for line in proc.stdout.splitlines() if line.startswith(chapter.stem))
        assert line.rstrip().endswith("ok"), line
        inst, blank = table[chapter.stem]["instructor"], table[chapter.stem]["blank"]
        assert inst[0] == inst[1] > 0 and blank == (0.0, inst[1]), line


def test_check_fails_when_the_instructor_answer_is_wrong(tmp_path, release):
    """Does check exit non-zero when an instructor notebook misses full marks?"""
    source = tmp_path / "notebooks"
    source.mkdir()
    nb = nbformat.read(str(FIXTURE_SOURCE / "90_tiny.ipynb"), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "ch90_double":
            cell.source = cell.source.replace("* 2", "* 3")
    nbformat.write(nb, str(source / "90_tiny.ipynb"))
    rel = tmp_path / "release"
    assert run_autograder("release", "--source", str(source), "--out", str(rel)).returncode == 0
    proc = run_autograder(
        "check", "--source", str(source), "--release-dir", str(rel), "--no-progress"
    )
    assert proc.returncode == 1, proc.stdout
    assert "FAIL" in proc.stdout and "instructor" in proc.stdout
    shutil.rmtree(rel)
