"""Per-cell results, the roster, and writing grades into nbgrader's gradebook.

* ``CellRecorder`` (appended to each grading worker's pipeline) and ``finish_row`` give every
  CSV row a ``cells`` list: one ``{grade_id, score, max_score, status, message}`` per
  autograded cell of the instructor notebook, in order, so the row's ``max_score`` is always
  the chapter's.
* ``read_roster`` / ``missing_rows``: ``--roster students.csv`` gives a ``missing`` row (score 0)
  for each roster student who handed in nothing for a chapter being graded.
* ``write_gradebook`` writes the rows into nbgrader's gradebook through its own API
  (``nbgrader.api.Gradebook``), at any SQLAlchemy URL, so that stock ``nbgrader export`` and
  formgrader see them. Several processes may write one database at once (PostgreSQL: shards on
  several machines; SQLite: shards on one machine): the parts that create shared rows
  (course, assignments, grade cells, students) run under a lock (a PostgreSQL advisory lock, a
  file lock for SQLite).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import logging
import os
import warnings
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution, is_task

from autograder.paths import autograded_points

log = logging.getLogger("autograder")

#: Value of ``--db`` that writes no gradebook.
NO_DB = "none"

#: Key of the PostgreSQL advisory lock held while shared gradebook rows are created.
_PG_LOCK_KEY = 0x6B64645F6762  # "kdd_gb"


# --- per-cell results ----------------------------------------------------------------------


class CellRecorder(NbGraderPreprocessor):
    """Last step of the grading pipeline: keep the per-cell outcome of the notebook just graded.

    It copies what ``ScoreCells`` decided (``resources["autograder"]["cells"]``, the one
    classifier of cell statuses) and changes nothing.
    """

    def reset(self) -> None:
        self.cells: list[dict] | None = None

    def preprocess(self, nb, resources: dict):
        self.cells = [dict(c) for c in resources.get("autograder", {}).get("cells", [])]
        return nb, resources


def attach_cell_recorder(grader) -> CellRecorder:
    """Append a ``CellRecorder`` to a ``NotebookGrader``'s pipeline; return it."""
    recorder = CellRecorder(parent=grader)
    recorder.reset()
    grader._pipeline.append(recorder)
    return recorder


_POINTS: dict[str, dict[str, float]] = {}


def chapter_points(source: str | Path) -> dict[str, float]:
    """``{grade_id: points}`` of the instructor notebook at ``source`` (read once per process)."""
    key = str(source)
    if key not in _POINTS:
        _POINTS[key] = autograded_points(nbformat.read(key, as_version=4))
    return _POINTS[key]


def job_points(job: dict) -> dict[str, float]:
    """The autograded points of a grading job's chapter (``job["points"]`` or its source)."""
    if job.get("points") is not None:
        return job["points"]
    try:
        return chapter_points(job["source"])
    except Exception:  # noqa: BLE001 - an unreadable instructor notebook has no points
        log.exception("cannot read the instructor notebook %s", job.get("source"))
        return {}


def complete_cells(points: dict[str, float], cells: list[dict] | None, absent: str) -> list[dict]:
    """One entry per autograded cell in ``points``, in order: the recorded one, or
    ``{score: 0, status: absent}`` for a cell that was not recorded; ``message`` is why a
    recorded cell failed (``ScoreCells``), empty otherwise."""
    by_id = {c["grade_id"]: c for c in cells or [] if c.get("grade_id") in points}
    out = []
    for gid, pts in points.items():
        cell = by_id.get(gid)
        if cell is None:
            cell = {"grade_id": gid, "score": 0.0, "status": absent}
        out.append(
            {
                "grade_id": gid,
                "score": float(cell.get("score", 0.0)),
                "max_score": float(pts),
                "status": cell.get("status", absent),
                "message": str(cell.get("message", "") or ""),
            }
        )
    return out


def finish_row(row: dict, job: dict, recorded: list[dict] | None) -> dict:
    """Give a graded row its ``cells`` and the chapter's ``max_score``; drop ``seconds``."""
    points = job_points(job)
    cells = recorded if recorded is not None else row.get("cells")
    # A grade cell absent from what was scored is one the student deleted (and that was not
    # re-inserted); when nothing was scored at all, no cell ran.
    row["cells"] = complete_cells(points, cells, "missing" if cells else "not_run")
    row["max_score"] = sum(points.values())
    row.pop("seconds", None)
    return row


# --- roster ----------------------------------------------------------------------------------


class RosterError(Exception):
    """The roster file cannot be used; the message says why, in English."""


def read_roster(path: Path) -> dict[str, dict]:
    """Read ``students.csv``: ``{student_id: {first_name, last_name, email}}`` in file order.

    The file has a header row with a ``student_id`` (or ``id``, as ``nbgrader db student
    import`` uses) column; ``first_name``, ``last_name`` and ``email`` columns are optional and
    go into the gradebook.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = [f.strip() for f in reader.fieldnames or []]
            column = next((c for c in ("student_id", "id") if c in fields), None)
            if column is None:
                raise RosterError(
                    f"{path}: the header needs a student_id (or id) column, found {fields}"
                )
            roster: dict[str, dict] = {}
            for line, raw in enumerate(reader, start=2):
                # (extra fields past the header come under the key None: ignored)
                rec = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
                sid = rec.get(column, "")
                if not sid:
                    continue
                if sid in roster:
                    raise RosterError(f"{path}, line {line}: student {sid!r} listed twice")
                roster[sid] = {
                    k: rec[k] for k in ("first_name", "last_name", "email") if rec.get(k)
                }
    except OSError as exc:
        raise RosterError(f"cannot read the roster {path}: {exc.strerror or exc}") from None
    return roster


def missing_rows(
    roster: dict[str, dict], graded: list[dict], stems: list[str], sources: dict[str, Path]
) -> list[dict]:
    """A ``missing`` row for each roster student without a row for a chapter in ``stems``."""
    have = {(r["student_id"], r["notebook"]) for r in graded}
    rows = []
    for sid in roster:
        for stem in stems:
            if (sid, stem) in have:
                continue
            points = chapter_points(sources[stem])
            rows.append(
                {
                    "student_id": sid,
                    "notebook": stem,
                    "score": 0.0,
                    "max_score": sum(points.values()),
                    "status": "missing",
                    "message": "no submission for this chapter (student on the roster)",
                    "cells": complete_cells(points, [], "missing"),
                }
            )
    return rows


# --- nbgrader's gradebook ----------------------------------------------------------------------


def default_db_url(out_csv: Path) -> str:
    """SQLite gradebook next to the CSV: ``sqlite:////abs/path/gradebook.db``."""
    return f"sqlite:///{Path(out_csv).resolve().parent / 'gradebook.db'}"


@contextlib.contextmanager
def _lock(db_url: str):
    """Exclusive lock among every process writing the gradebook at ``db_url``."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                    conn.commit()
        finally:
            engine.dispose()
    elif backend == "sqlite" and url.database and url.database != ":memory:":
        lock_path = Path(url.database + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
    else:
        yield


@contextlib.contextmanager
def _alembic_head_in_process():
    """nbgrader stamps a new gradebook with the revision ``alembic heads`` prints, by running
    the ``alembic`` command: a second Python start (seconds on a loaded machine), and a
    ``FileNotFoundError`` when the environment is not activated (``.venv/bin`` not on
    ``PATH``). Read the same revision from nbgrader's migration scripts in this process."""
    import nbgrader.api
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    def head() -> str:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(Path(nbgrader.api.__file__).parent / "alembic"))
        return ScriptDirectory.from_config(cfg).get_current_head()

    original = nbgrader.api.get_alembic_version
    nbgrader.api.get_alembic_version = head
    try:
        yield
    finally:
        nbgrader.api.get_alembic_version = original


def _structure(gb, stem: str, source: Path) -> None:
    """Assignment ``stem`` with one notebook ``stem`` and the instructor notebook's cells."""
    nb = nbformat.read(str(source), as_version=4)
    gb.update_or_create_assignment(stem)
    kernelspec = nb.metadata.get("kernelspec")
    gb.update_or_create_notebook(
        stem, stem, kernelspec=None if kernelspec is None else json.dumps(kernelspec)
    )
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if not gid:
            continue
        if is_task(cell) or is_grade(cell):
            create = (
                gb.update_or_create_task_cell if is_task(cell) else gb.update_or_create_grade_cell
            )
            points = float(meta.get("points", 0) or 0)
            create(gid, stem, stem, max_score=points, cell_type=cell.cell_type)
        if is_solution(cell):
            gb.update_or_create_solution_cell(gid, stem, stem)


#: Row statuses whose notebook was never read: nothing of it is left for a human to grade.
_UNREAD = ("error", "symlink", "too_large")


def _manual_ids(source: Path) -> list[str]:
    """grade_ids of the instructor notebook's cells a human grades (``course_layout``)."""
    from autograder.course_layout import manual_grade_ids

    return manual_grade_ids(nbformat.read(str(source), as_version=4))


def _record(gb, row: dict, manual: list[str] = ()) -> None:
    """Write one graded row: the submission and the auto score of each autograded cell.

    Cells graded by hand (``manual``) get no auto score and wait for a human in formgrader
    (``needs_manual_grade``), as after nbgrader's autograde; a manual score already given is
    kept. A notebook that could not be read leaves nothing to grade: 0, no review."""
    stem, sid = row["notebook"], row["student_id"]
    scores = {c["grade_id"]: float(c["score"]) for c in row.get("cells", [])}
    submission = gb.update_or_create_submission(stem, sid)
    grades = {g.name: g for nb in submission.notebooks for g in nb.grades}
    if any(gid not in grades for gid in scores):
        # The chapter gained a grade cell since this submission was first recorded.
        gb.remove_submission(stem, sid)
        submission = gb.add_submission(stem, sid)
        grades = {g.name: g for nb in submission.notebooks for g in nb.grades}
    for gid, score in scores.items():
        grades[gid].auto_score = score
        grades[gid].needs_manual_grade = False
    for gid in manual:
        grade = grades.get(gid)
        if grade is None or grade.manual_score is not None:
            continue
        unread = row["status"] in _UNREAD
        grade.auto_score = 0.0 if unread else None
        grade.needs_manual_grade = not unread
    try:
        gb.db.commit()
    except Exception:
        gb.db.rollback()
        raise


def write_gradebook(
    db_url: str,
    rows: list[dict],
    sources: dict[str, Path],
    course_id: str = "default_course",
    roster: dict[str, dict] | None = None,
) -> int:
    """Write ``rows`` into nbgrader's gradebook at ``db_url``; return the rows written.

    Chapters become assignments (one notebook each, named after the chapter); rows with status
    ``unknown_notebook`` are skipped; a ``missing`` row makes sure the student exists and has no
    submission of that chapter (so ``nbgrader export`` gives 0, as the CSV does). Re-grading
    updates the auto scores; manual scores given in formgrader are kept.
    """
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.engine import make_url

    rows = [r for r in rows if r["notebook"] in sources and r["status"] != "unknown_notebook"]
    stems = sorted({r["notebook"] for r in rows})
    students = sorted({r["student_id"] for r in rows} | set(roster or {}))
    if not students:
        return 0

    # PostgreSQL takes concurrent writers: only the shared rows are created under the lock.
    # SQLite has one writer at a time: the whole write holds the lock.
    postgres = make_url(db_url).get_backend_name() == "postgresql"
    with contextlib.ExitStack() as stack:
        stack.enter_context(_alembic_head_in_process())
        # nbgrader's add_submission builds objects SQLAlchemy 2 warns about; the rows are right.
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", message=".*not in session.*")
        if not postgres:
            stack.enter_context(_lock(db_url))
        with _lock(db_url) if postgres else contextlib.nullcontext():
            gb = Gradebook(db_url, course_id=course_id)
            stack.callback(gb.close)
            for stem in stems:
                _structure(gb, stem, sources[stem])
            for sid in students:
                gb.update_or_create_student(sid, **(roster or {}).get(sid, {}))
        manual = {stem: _manual_ids(sources[stem]) for stem in stems}
        written = 0
        for row in sorted(rows, key=lambda r: (r["student_id"], r["notebook"])):
            if row["status"] == "missing":
                try:
                    gb.remove_submission(row["notebook"], row["student_id"])
                except MissingEntry:
                    pass
            else:
                _record(gb, row, manual[row["notebook"]])
            written += 1
        return written
