"""The instructor's per-cell times at grading size: measured by ``grade`` (``autograder/
calibrate.py``) or ``check``, read by grading.

The instructor notebook of a chapter is graded once and the time each of its cells took
(charged seconds, ``autograder/kernel_clock.py``; ``ExecuteGraded.timings_out``) goes into one
JSON file (``ExecuteGraded.timings_file``, ``autograder/timings.json`` by default;
machine-specific, so it is not committed). Grading then lets a student cell take
``timing_multiple`` times the instructor's time for the same cell, with a floor. An entry is
current only for the chapter version (its code cells' fingerprint) and the grader version
(``autograder.version.code_version``) that measured it; ``grade`` measures again otherwise. The
committed student copies never hold timings, so ``release`` stays deterministic.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

log = logging.getLogger("autograder")

VERSION = 2  # 2: charged seconds per cell (autograder/kernel_clock.py), the grader's version


def cell_key(cell) -> str | None:
    """What a cell's time is recorded under: its nbgrader ``grade_id``, else its cell id."""
    meta = cell.get("metadata", {})
    if meta.get("autograder_key"):
        return meta["autograder_key"]
    nbg = meta.get("nbgrader")
    if isinstance(nbg, dict) and isinstance(nbg.get("grade_id"), str) and nbg["grade_id"]:
        return nbg["grade_id"]
    return cell.get("id") or None


def fingerprint(source_nb) -> str:
    """A hash of the instructor notebook's code cells (markdown edits keep the timings)."""
    digest = hashlib.sha256()
    for cell in source_nb.cells:
        if cell.cell_type == "code":
            digest.update(cell.source.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


def read(path: str | Path) -> dict:
    """The timings file as a dict (``{"chapters": {}}`` when it is missing or unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": VERSION, "chapters": {}}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable timings file %s: %s", path, exc)
        return {"version": VERSION, "chapters": {}}
    if not isinstance(data, dict) or not isinstance(data.get("chapters"), dict):
        return {"version": VERSION, "chapters": {}}
    return data


def record(path: str | Path, chapter: str, source_nb, cells: dict[str, float]) -> None:
    """Put one chapter's instructor timings into the timings file (atomically; callers that
    may run at the same time hold ``calibrate.lock``)."""
    from autograder.paths import atomic_write_text
    from autograder.version import code_version

    data = read(path)
    data["version"] = VERSION
    data["chapters"][chapter] = {
        "fingerprint": fingerprint(source_nb),
        "grader": code_version(),
        "total": round(sum(cells.values()), 3),
        "cells": dict(sorted(cells.items())),
    }
    data["chapters"] = dict(sorted(data["chapters"].items()))
    atomic_write_text(Path(path), json.dumps(data, indent=1, ensure_ascii=False) + "\n")


class Timings:
    """Read the timings file once per grading process (again only if it changes)."""

    def __init__(self):
        self._cache: dict[str, tuple[float, dict]] = {}

    def chapter(self, path: str, notebook: str, source_nb) -> dict | None:
        """``{"cells": {key: seconds}, "total": seconds}`` for ``notebook``, or None when none
        are recorded for this chapter version and grader version."""
        if not path:
            return None
        try:
            mtime = Path(path).stat().st_mtime_ns
        except OSError:
            return None
        cached = self._cache.get(path)
        if cached is None or cached[0] != mtime:
            cached = (mtime, read(path))
            self._cache[path] = cached
        entry = cached[1]["chapters"].get(notebook)
        if not isinstance(entry, dict) or not isinstance(entry.get("cells"), dict):
            return None
        from autograder.version import code_version

        if (
            entry.get("fingerprint") != fingerprint(source_nb)
            or entry.get("grader") != code_version()
        ):
            return None
        try:
            cells = {str(k): float(v) for k, v in entry["cells"].items()}
            return {"cells": cells, "total": float(entry.get("total", sum(cells.values())))}
        except (TypeError, ValueError):
            return None
