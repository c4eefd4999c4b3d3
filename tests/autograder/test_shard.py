"""Sharded grading: ``grade --shard K/N`` on several machines, ``merge``, and the gradebook they
write at the same time.

The class is the tiny fixture chapter's (``conftest._fixture_class``: full marks, blank, a
hidden-test failure, broken JSON), so its unsharded run is ``conftest.fixture_grades`` (one
worker). Here two shards of the same class grade *at the same time* into one gradebook: a
real PostgreSQL server (``conftest.postgres``) when Debian's ``postgresql`` is installed (as CI
installs it), a shared SQLite file otherwise (then the PostgreSQL test skips, or fails under
``CI=true``). Then ``merge`` must give the unsharded CSV and JSON byte for byte, and stock
``nbgrader export`` must give the CSV's scores.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    CELL_TIMEOUT,
    FIXTURE_SOURCE,
    NOTEBOOK_TIMEOUT,
    REPO,
    _fixture_class,
    read_csv,
    run_autograder,
)
from nbgrader.api import Gradebook
from servers import require_server

from autograder.merge import MergeError, merge_results, parse_shard, shard_of
from autograder.results import csv_text, results_text, write_results

STUDENTS = ["full", "blank", "hidden_fail", "malformed"]  # conftest._fixture_class

# --- two shards at the same time --------------------------------------------------------------


def _grade_cmd(subs: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out),
        "--source", str(FIXTURE_SOURCE), "--workers", "1", "--no-progress",
        "--cell-timeout", str(CELL_TIMEOUT), "--timeout", str(NOTEBOOK_TIMEOUT), *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def sharded(tmp_path_factory, release, postgres):
    """Shards 0/2 and 1/2 of the fixture class, started together, writing one gradebook."""
    root = tmp_path_factory.mktemp("sharded")
    _fixture_class(root / "subs", release)
    db = postgres["url"] or f"sqlite:///{root / 'shared.db'}"
    env = dict(os.environ, COURSE_SIZE="full")
    procs, spans = [], []
    for k in range(2):
        cmd = _grade_cmd(root / "subs", root / f"shard{k}.csv", "--shard", f"{k}/2", "--db", db)
        started = time.monotonic()
        procs.append(
            subprocess.Popen(
                cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
        spans.append([started, None])
    outputs = []
    for proc, span in zip(procs, spans):
        out, err = proc.communicate(timeout=600)
        span[1] = time.monotonic()
        assert proc.returncode == 0, err[-3000:]
        outputs.append(out)
    return {"root": root, "db": db, "spans": spans, "stdout": outputs}


def _export(db_url: str, tmp: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """Stock ``nbgrader export`` with an nbgrader_config.py pointing at ``db_url``."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.db_url = {db_url!r}\n"
        'c.CourseDirectory.course_id = "keras-deep-dive"\n',
        encoding="utf-8",
    )
    nbgrader = Path(sys.executable).parent / "nbgrader"
    proc = subprocess.run(
        [str(nbgrader), "export", "--to", str(tmp / "export.csv")],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(tmp / "export.csv", newline="", encoding="utf-8") as fh:
        return {
            (r["student_id"], r["assignment"]): (float(r["score"]), float(r["max_score"]))
            for r in csv.DictReader(fh)
        }


def _csv_scores(path: Path) -> dict[tuple[str, str], tuple[float, float]]:
    return {
        key: (float(r["score"]), float(r["max_score"]))
        for key, r in read_csv(path).items()
        if r["status"] != "unknown_notebook"
    }


def test_shards_split_the_class_by_student(sharded):
    """Does each student land in exactly one shard, both shards non-empty, as shard_of says?"""
    rows = [read_csv(sharded["root"] / f"shard{k}.csv") for k in range(2)]
    students = [{s for s, _ in r} for r in rows]
    assert students[0] and students[1] and not students[0] & students[1]
    assert students[0] | students[1] == set(STUDENTS)
    for k in range(2):
        assert all(shard_of(s, 2) == k for s in students[k])


def test_merge_equals_single_run(sharded, fixture_grades, tmp_path):
    """Is `merge` of the two shards byte-identical to one unsharded run, CSV and per-cell JSON?"""
    root = sharded["root"]
    proc = run_autograder(
        "merge", str(root / "shard1.csv"), str(root / "shard0.csv"),
        "--out", str(tmp_path / "merged.csv"), "--source", str(FIXTURE_SOURCE),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    single = fixture_grades[1]
    assert (tmp_path / "merged.csv").read_bytes() == single.read_bytes()
    assert (tmp_path / "merged.json").read_bytes() == single.with_suffix(".json").read_bytes()
    # and the merged gradebook (SQLite next to the merged CSV) holds the same scores
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", course_id="keras-deep-dive") as gb:
        stored = {
            (sub.student.id, sub.assignment.name): (sub.score, sub.assignment.max_score)
            for sub in gb.find_assignment("90_tiny").submissions
        }
    assert stored == _csv_scores(single)


def test_per_cell_results(fixture_grades):
    """Does the JSON next to the CSV give each autograded cell's score and why?"""
    doc = json.loads(fixture_grades[1].with_suffix(".json").read_text(encoding="utf-8"))
    cells = {
        r["student_id"]: {c["grade_id"]: (c["score"], c["status"]) for c in r["cells"]}
        for r in doc["results"]
    }
    assert cells["full"] == {"ch90_double_test": (2, "passed"), "ch90_size_test": (1, "passed")}
    assert cells["hidden_fail"] == {
        "ch90_double_test": (0, "hidden_failed"),
        "ch90_size_test": (1, "passed"),
    }
    assert cells["blank"] == {"ch90_double_test": (0, "failed"), "ch90_size_test": (0, "failed")}
    assert cells["malformed"] == {
        "ch90_double_test": (0, "not_run"),
        "ch90_size_test": (0, "not_run"),
    }
    for row in doc["results"]:
        assert row["score"] == sum(c["score"] for c in row["cells"])
        assert row["max_score"] == sum(c["max_score"] for c in row["cells"]) == 3


def test_concurrent_shards_fill_one_gradebook(sharded, tmp_path):
    """Do two shards writing one gradebook at once leave stock `nbgrader export` = our scores?"""
    ours = {}
    for k in range(2):
        ours.update(_csv_scores(sharded["root"] / f"shard{k}.csv"))
    assert _export(sharded["db"], tmp_path) == ours
    assert len(ours) == len(STUDENTS)


def test_postgres_two_shards_at_once(sharded, postgres):
    """With a real PostgreSQL server: did the shards grade at the same time into it?"""
    if postgres["url"] is None:
        require_server(f"PostgreSQL not available: {postgres['reason']}")
    assert sharded["db"].startswith("postgresql")
    (a0, b0), (a1, b1) = sharded["spans"]
    assert max(a0, a1) < min(b0, b1)  # the two runs overlapped
    for out in sharded["stdout"]:
        assert "gradebook: postgresql" in out and "@127.0.0.1" in out


# --- merge and shard rules (no kernel) ------------------------------------------------------


def _row(student, notebook="90_tiny", score=1.0, status="ok"):
    return {
        "student_id": student,
        "notebook": notebook,
        "score": score,
        "max_score": 3.0,
        "status": status,
        "message": "",
        "cells": [],
    }


def test_shard_spec_is_checked():
    """Are malformed --shard values refused with a readable reason?"""
    assert parse_shard("0/4") == (0, 4) and parse_shard("3/4") == (3, 4)
    for bad in ("4/4", "-1/2", "1", "a/b", "1/0", "1/2/3"):
        with pytest.raises(ValueError, match="K/N"):
            parse_shard(bad)
    proc = run_autograder("grade", "x", "--out", "y.csv", "--shard", "2/2")
    assert proc.returncode == 2 and "0 <= K < N" in proc.stderr


def test_shard_of_is_stable_and_spread():
    """Is the split a pure function of the student id (not of order), spread over all shards?"""
    ids = [f"student{i:03d}" for i in range(400)]
    split = [shard_of(s, 4) for s in ids]
    assert split == [shard_of(s, 4) for s in ids]
    assert [shard_of(s, 4) for s in reversed(ids)] == split[::-1]
    counts = [split.count(k) for k in range(4)]
    assert min(counts) > 60, counts  # each shard gets a fair share (100 expected)
    assert shard_of("alice", 4) == 3  # pinned: a different hash would re-deal a running class


def test_merge_refuses_incomplete_or_overlapping_shards(tmp_path):
    """Does merge refuse a missing shard, a shard given twice, mixed splits, an edited CSV,
    a row in two shards, an unsharded file among shards?"""
    a, b, c = _row("a"), _row("b"), _row("c")
    write_results(tmp_path / "s0.csv", [a, b], (0, 2))
    write_results(tmp_path / "s1.csv", [c], (1, 2))
    write_results(tmp_path / "t1.csv", [c], (1, 3))
    write_results(tmp_path / "dup.csv", [b], (1, 2))
    write_results(tmp_path / "all.csv", [a, b, c])
    assert len(merge_results([tmp_path / "s1.csv", tmp_path / "s0.csv"])) == 3
    cases = {
        ("s0.csv",): "missing shard",
        ("s0.csv", "s0.csv", "s1.csv"): "given twice",
        ("s0.csv", "t1.csv"): "different splits",
        ("s0.csv", "dup.csv"): "two shards",
        ("s0.csv", "all.csv"): "not a shard",
        ("s0.csv", "nothere.csv"): "not found",
    }
    for names, message in cases.items():
        with pytest.raises(MergeError, match=message):
            merge_results([tmp_path / n for n in names])
    (tmp_path / "s1.csv").write_text(csv_text([_row("c", score=3.0)]), encoding="utf-8")
    with pytest.raises(MergeError, match="edited"):
        merge_results([tmp_path / "s0.csv", tmp_path / "s1.csv"])


def test_merge_is_exact_for_any_score(tmp_path):
    """Is a merged CSV byte-identical even for scores the CSV rounds (1/3, 12345.5)?"""
    rows = [_row("a", score=1 / 3), _row("b", score=12345.5), _row("c", "00_x", score=2.0)]
    write_results(tmp_path / "one.csv", rows)
    write_results(
        tmp_path / "s0.csv", [r for r in rows if shard_of(r["student_id"], 2) == 0], (0, 2)
    )
    write_results(
        tmp_path / "s1.csv", [r for r in rows if shard_of(r["student_id"], 2) == 1], (1, 2)
    )
    merged = merge_results([tmp_path / "s0.csv", tmp_path / "s1.csv"])
    assert csv_text(merged) == (tmp_path / "one.csv").read_text(encoding="utf-8")
    assert results_text(merged) == (tmp_path / "one.json").read_text(encoding="utf-8")
