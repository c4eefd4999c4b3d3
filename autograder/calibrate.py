"""Calibrate the time limits without a manual step: before grading, measure the instructor
notebook of every chapter whose timings are missing or stale.

Timings (``autograder/preprocessors/timings.py``) are current for one chapter version (its code
cells) and one grader version. ``grade`` calls ``ensure_timings`` for the chapters it is about
to grade: a chapter without current timings has its instructor copy graded once, with the fixed
limits, and the charged seconds of every cell that run took are recorded in
``ExecuteGraded.timings_file``. Every later ``grade`` on that machine reuses them. Parallel runs
(shards or several ``grade`` commands on one machine) take a file lock next to the timings file,
so a chapter is measured once: the others wait for the measurement and read it.

Only an instructor run that scores full marks is recorded; otherwise the chapter's cells keep
the fixed ``cell_timeout`` (the author's error is named in a warning).
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import logging
import tempfile
from pathlib import Path

import nbformat

from autograder.preprocessors import timings as timing_file
from autograder.preprocessors.time_limits import TimeLimits

log = logging.getLogger("autograder")

INSTRUCTOR = "instructor"


def timings_path(config) -> str:
    """The timings file that ``config`` grades with (``c.ExecuteGraded.timings_file``)."""
    section = config.ExecuteGraded if "ExecuteGraded" in config else {}
    return str(section.get("timings_file", TimeLimits.timings_file.default_value))


def calibrates(config) -> bool:
    """Whether ``config`` calibrates any limit (``--cell-timeout`` and ``--timeout`` both
    given turn calibration off)."""
    section = config.ExecuteGraded if "ExecuteGraded" in config else {}
    return bool(
        section.get("calibrate_cells", TimeLimits.calibrate_cells.default_value)
        or section.get("calibrate_notebook", TimeLimits.calibrate_notebook.default_value)
    )


@contextlib.contextmanager
def lock(path: str | Path):
    """Hold the exclusive lock of the timings file ``path`` (``<path>.lock``) on this machine."""
    lock_path = Path(str(path) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _current(path: str, sources: dict[str, Path]) -> dict[str, dict | None]:
    reader = timing_file.Timings()
    return {
        stem: reader.chapter(path, stem, nbformat.read(str(source), as_version=4))
        for stem, source in sources.items()
    }


def ensure_timings(config, sources: dict[str, Path], workers: int = 1) -> dict[str, dict | None]:
    """The current timings of each chapter in ``sources`` (``{stem: instructor notebook}``),
    measuring those that have none first; ``{stem: {"cells", "total"} or None}``."""
    path = timings_path(config)
    found = _current(path, sources)
    if all(found.values()):
        return found
    with lock(path):
        found = _current(path, sources)  # another process may have measured them meanwhile
        stale = {stem: sources[stem] for stem, entry in found.items() if entry is None}
        if stale:
            log.warning(
                "measuring the instructor copy of %s to calibrate the time limits "
                "(once per chapter version and grader version; recorded in %s)",
                ", ".join(stale),
                path,
            )
            measure(config, stale, path, workers)
            found = _current(path, sources)
    for stem, entry in found.items():
        if entry is None:
            log.warning("%s has no calibrated limits: its cells get the fixed cell timeout", stem)
    return found


def measure(config, sources: dict[str, Path], path: str, workers: int = 1) -> list[str]:
    """Grade each instructor notebook in ``sources`` with the fixed limits and record its cell
    times in the timings file ``path``; return the chapters recorded (caller holds ``lock``)."""
    from autograder.grade import GradeRunner

    config = copy.deepcopy(config)
    config.ExecuteGraded.calibrate_cells = False
    config.ExecuteGraded.calibrate_notebook = False
    config.GradeRunner.workers = max(1, min(workers, len(sources)))
    with tempfile.TemporaryDirectory(prefix="autograder-calibrate-") as tmp:
        config.ExecuteGraded.timings_out = tmp
        jobs = [
            {
                "student_id": INSTRUCTOR,
                "notebook": stem,
                "path": str(source),
                "source": str(source),
                "feedback": None,
            }
            for stem, source in sources.items()
        ]
        rows = GradeRunner(config=config).run(jobs, desc="calibrating")
        return record_rows(rows, sources, Path(tmp), path)


def record_rows(rows, sources: dict[str, Path], folder: Path, path: str) -> list[str]:
    """Record the per-cell times (``folder/instructor/<stem>.json``, ``timings_out``) of every
    instructor row that scored full marks; return the chapters recorded."""
    recorded = []
    for row in rows:
        stem = row["notebook"]
        if row["student_id"] != INSTRUCTOR or stem not in sources:
            continue
        if row["status"] != "ok" or float(row["score"]) != float(row["max_score"]):
            log.warning(
                "the instructor copy of %s did not score full marks (%s: %s): its times are "
                "not recorded",
                stem,
                row["status"],
                row["message"] or f"{row['score']}/{row['max_score']}",
            )
            continue
        try:
            data = json.loads((folder / INSTRUCTOR / f"{stem}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        source_nb = nbformat.read(str(sources[stem]), as_version=4)
        timing_file.record(path, stem, source_nb, data["cells"])
        recorded.append(stem)
    return recorded
