"""nbgrader's course folder, written by ``grade``, so that formgrader and stock nbgrader commands
work on our grading: the course layout writer.

``grade --course DIR`` (default: the folder of ``--out``) writes, for every submission it graded:

* ``DIR/submitted/<student>/<chapter>/<chapter>.ipynb``: the notebook as handed in (parsed and
  re-written: formgrader counts submissions from these folders);
* ``DIR/autograded/<student>/<chapter>/<chapter>.ipynb``: the notebook as graded, what formgrader
  opens for manual grading and ``nbgrader generate_feedback`` renders. Grade cells hold their
  visible part only (what the student copy shows: no hidden test, no expected value), answer
  cells the student's text, outputs as they ran (sanitised like the feedback reports), and every
  nbgrader cell carries the checksum of the student copy, as nbgrader's ``OverwriteCells``
  leaves it, so an answer the student left as released reads as "no response";

and, once per run, ``DIR/nbgrader_config.py`` naming the course id and the gradebook (``--db``),
so that ``jupyter lab`` (formgrader), ``nbgrader export`` and ``nbgrader generate_feedback`` run
from ``DIR`` see the grades. Each shard writes only its own students' folders; the config file is
the same for every shard. Every file is written atomically.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import nbformat
from nbgrader.utils import is_grade, is_solution, is_task

from autograder.paths import atomic_write_text

log = logging.getLogger("autograder")

#: Value of ``--course`` that writes no course folder.
NO_COURSE = "none"

#: First line of the nbgrader_config.py this module writes (a file without it is the
#: instructor's own and is never overwritten).
CONFIG_MARK = "# Written by `python -m autograder grade`"


def notebook_path(course: Path, folder: str, student: str, stem: str) -> Path:
    """``<course>/<folder>/<student>/<stem>/<stem>.ipynb`` (nbgrader's layout)."""
    return Path(course) / folder / student / stem / f"{stem}.ipynb"


def _write_nb(path: Path, nb) -> None:
    text = nbformat.writes(nb)
    atomic_write_text(path, text if text.endswith("\n") else text + "\n")


class CourseLayout:
    """Write one grading worker's submitted and autograded notebooks (student copies cached)."""

    def __init__(self, sanitizer=None):
        self._student_copies: dict[str, dict[str, str]] = {}
        self._sanitizer = sanitizer

    def checksums(self, source: str) -> dict[str, str]:
        """``{grade_id: checksum}`` of the student copy of the instructor notebook ``source``."""
        if source not in self._student_copies:
            from autograder.release import Release

            student = Release().student_copy(Path(source))
            self._student_copies[source] = {
                c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader["checksum"]
                for c in student.cells
                if c.metadata.get("nbgrader", {}).get("grade_id")
                and "checksum" in c.metadata.nbgrader
            }
        return self._student_copies[source]

    def write_submitted(self, course: Path, job: dict, nb) -> None:
        _write_nb(notebook_path(course, "submitted", job["student_id"], job["notebook"]), nb)

    def remove_autograded(self, course: Path, job: dict) -> None:
        """A submission that could not be graded leaves no graded notebook from an earlier run."""
        path = notebook_path(course, "autograded", job["student_id"], job["notebook"])
        if path.exists():
            path.unlink()

    def write_autograded(self, course: Path, job: dict, nb, source_nb) -> Path:
        """Write the graded notebook ``nb`` (the grading pipeline's, hidden tests already cut
        out by ``SplitHiddenTests``) as nbgrader's autograde would; return its path."""
        nb = copy.deepcopy(nb)
        sums = self.checksums(job["source"])
        instructor = {c.source for c in source_nb.cells}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if meta:
                gid = meta.get("grade_id")
                if gid in sums:
                    meta["checksum"] = sums[gid]
                else:
                    meta.pop("checksum", None)
                if is_grade(cell) and cell.cell_type == "code" and not is_solution(cell):
                    meta.pop("score", None)  # scores live in the gradebook
            self._sanitize(cell, instructor)
        nb.metadata.pop("widgets", None)
        path = notebook_path(course, "autograded", job["student_id"], job["notebook"])
        _write_nb(path, nb)
        return path

    def _sanitize(self, cell, instructor: set[str]) -> None:
        """Formgrader renders the notebook in the instructor's logged-in browser: no script a
        student wrote may reach it (markdown with HTML, HTML/JS outputs)."""
        if self._sanitizer is None:
            from nbconvert.preprocessors.sanitize import SanitizeHTML

            from autograder.feedback import SAFE_ATTRIBUTES, SAFE_TAGS

            self._sanitizer = SanitizeHTML(tags=SAFE_TAGS, attributes=SAFE_ATTRIBUTES)
        if cell.cell_type == "code":
            outputs = self._sanitizer.sanitize_code_outputs(cell.get("outputs", []))
            cell.outputs = [o for o in outputs if o.get("data", True)]
        elif cell.source not in instructor:
            cell.pop("attachments", None)
            if "<" in cell.source:
                cell.source = self._sanitizer.sanitize_html_tags(cell.source)


def manual_grade_ids(nb) -> list[str]:
    """grade_ids of the cells a human grades: answer cells with points (written answers,
    code graded by hand) and task cells."""
    return [
        c.metadata.nbgrader["grade_id"]
        for c in nb.cells
        if is_task(c) or (is_grade(c) and (is_solution(c) or c.cell_type != "code"))
    ]


def write_config(course: Path, db_url: str | None, course_id: str) -> Path | None:
    """``<course>/nbgrader_config.py`` pointing nbgrader at the gradebook; an existing file that
    this tool did not write is left alone (with a warning naming the lines it needs)."""
    path = Path(course) / "nbgrader_config.py"
    lines = [
        CONFIG_MARK + " (rewritten by every run; remove this line to keep your edits).",
        "# Run `jupyter lab` (formgrader), `nbgrader export` or `nbgrader generate_feedback`",
        "# from this folder: they read the grades from the gradebook below.",
        "c = get_config()  # noqa: F821",
        f"c.CourseDirectory.course_id = {course_id!r}",
    ]
    if db_url:
        lines.append(f"c.CourseDirectory.db_url = {db_url!r}")
    text = "\n".join(lines) + "\n"
    if path.exists():
        current = path.read_text(encoding="utf-8", errors="replace")
        if not current.startswith(CONFIG_MARK):
            log.warning(
                "%s is not ours and was left as it is; for formgrader it needs:\n%s",
                path,
                "\n".join(lines[3:]),
            )
            return None
        if current == text:
            return path
    atomic_write_text(path, text)
    return path
