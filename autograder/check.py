"""The check step: every instructor notebook must score full marks and its blank copy 0.

Runs the same grading code as ``python -m autograder grade`` on the instructor notebook and on
a fresh student copy of every chapter, and also reports committed student copies that have
drifted from the chapters (``python -m autograder release`` fixes those).

It also records how long each cell of every instructor notebook took, at grading size and
with the fixed limits (no calibration), into ``ExecuteGraded.timings_file``
(``autograder/timings.json``; ``--timings``), as ``grade`` does by itself for a chapter it
finds without current timings (``autograder/calibrate.py``): grading lets a student cell take
a multiple of that. Only chapters whose instructor copy scored full marks are recorded.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

from autograder import calibrate
from autograder.grade import GradeRunner
from autograder.paths import NOTEBOOKS, RELEASE, atomic_write_text
from autograder.preprocessors import ExecuteGraded
from autograder.release import Release
from autograder.results import format_score

INSTRUCTOR, BLANK = calibrate.INSTRUCTOR, "blank"


def run_check(config, source_dir: Path = NOTEBOOKS, release_dir: Path = RELEASE, out=print) -> bool:
    """Grade every chapter's instructor and blank copies; print a table; return True if all pass."""
    release = Release(config=config)
    chapters = release.chapters(source_dir)
    if not chapters:
        out(f"No chapter notebooks ({release.notebook_glob}) in {source_dir}")
        return False
    timings_path = ExecuteGraded(config=config).timings_file
    config = copy.deepcopy(config)
    config.ExecuteGraded.calibrate_cells = False
    config.ExecuteGraded.calibrate_notebook = False
    with tempfile.TemporaryDirectory(prefix="autograder-check-") as tmp:
        config.ExecuteGraded.timings_out = str(Path(tmp) / "timings")
        jobs = []
        for stem, source in chapters.items():
            blank = Path(tmp) / BLANK / f"{stem}.ipynb"
            atomic_write_text(blank, release.render(source))
            for who, path in ((INSTRUCTOR, source), (BLANK, blank)):
                jobs.append(
                    {
                        "student_id": who,
                        "notebook": stem,
                        "path": str(path),
                        "source": str(source),
                        "feedback": None,
                    }
                )
        rows = GradeRunner(config=config).run(jobs, desc="checking")
        with calibrate.lock(timings_path):
            recorded = calibrate.record_rows(rows, chapters, Path(tmp) / "timings", timings_path)
    by_key = {(r["student_id"], r["notebook"]): r for r in rows}
    ok = True
    header = f"{'notebook':<28} {'instructor':>12} {'blank':>10}  result"
    out(header)
    out("-" * len(header))
    for stem in chapters:
        inst, blank = by_key[(INSTRUCTOR, stem)], by_key[(BLANK, stem)]
        problems = []
        if inst["status"] != "ok" or float(inst["score"]) != float(inst["max_score"]):
            problems.append(f"instructor {inst['status']}: {inst['message'] or 'not full marks'}")
        if float(inst["max_score"]) <= 0:
            problems.append("no autograded cells")
        if blank["status"] != "ok" or float(blank["score"]) != 0:
            problems.append(f"blank {blank['status']}: {blank['message'] or 'scores above 0'}")
        ok &= not problems
        out(
            f"{stem:<28} {format_score(inst['score']) + '/' + format_score(inst['max_score']):>12} "
            f"{format_score(blank['score']) + '/' + format_score(blank['max_score']):>10}  "
            + ("ok" if not problems else "FAIL: " + "; ".join(problems))
        )
        out(f"{'':<28} ran: instructor {_ran(inst)}; blank {_ran(blank)}")
    if recorded:
        out(f"instructor cell times of {len(recorded)} chapter(s) recorded in {timings_path}")
    drift = release.drift(source_dir, release_dir)
    for problem in drift:
        out(f"release drift: {problem} (run: python -m autograder release)")
    return ok and not drift


def _ran(row: dict) -> str:
    """How a row's notebook ran, for the table: the plan and how many cells it skipped, or
    the whole notebook and why."""
    from autograder.preprocessors.plan_cells import PLAN

    if row.get("run") == PLAN:
        return f"plan ({len(row.get('skipped_cells') or [])} cells skipped)"
    return row.get("run") or "not run"
