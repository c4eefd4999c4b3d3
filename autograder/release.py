"""The release step: generate every chapter's student copy with nbgrader's preprocessors.

The pipeline is nbgrader's own ``GenerateAssignment`` pipeline without the steps that need the
sqlite gradebook (``SaveCells``) or a kernel (``InstantiateTests``): grading restores grade cells
from the instructor notebook itself (see ``preprocessors/restore_cells.py``), so no database is
needed. Output is deterministic, so a test can regenerate it and fail on drift.

A release of the course's own notebooks (``notebooks/`` into ``autograder/release/``) also
regenerates ``course_utils/hints.json``: the progressive hints the authors write in each answer
cell's ``metadata.course.hints``, which ``course_utils.hint(grade_id)`` shows a student one
level at a time (``collect_hints``; the same drift check covers it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    IncludeHeaderFooter,
    LockCells,
)
from traitlets import List, Unicode
from traitlets.config import LoggingConfigurable

from autograder.paths import (
    CHAPTER_GLOB,
    NOTEBOOKS,
    RELEASE,
    REPO,
    atomic_write_text,
    chapters,
    release_path,
)

#: The hints file ``course_utils.hint`` reads (package data of ``course_utils``).
HINTS = REPO / "course_utils" / "hints.json"
_EXERCISE_HEADING = re.compile(r"^###\s+(练习.*)$", re.M)
_SECTION_HEADING = re.compile(r"^##\s+(.+)$", re.M)


def exercise_hints(nb) -> dict[str, dict]:
    """``{grade_id: {"title", "section", "hints"}}`` of every answer cell of the instructor
    notebook ``nb`` that has hints (``metadata.course.hints``), in cell order.

    ``title`` is the exercise heading before the answer cell (``练习 0.1：...``, the points
    dropped), ``section`` the ``## `` heading above it (the section a stuck student re-reads;
    ``metadata.course.hint_section`` overrides it).
    """
    found: dict[str, dict] = {}
    title = section = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for match in _SECTION_HEADING.finditer(cell.source):
                section, title = match.group(1).strip(), ""
            for match in _EXERCISE_HEADING.finditer(cell.source):
                title = re.sub(r"\s*\([^)]*分\)\s*", "", match.group(1)).strip()
        meta = cell.metadata.get("nbgrader", {})
        course = cell.metadata.get("course", {})
        if not meta.get("solution") or not course.get("hints"):
            continue
        grade_id = meta["grade_id"]
        found[grade_id] = {
            "title": title or grade_id,
            "section": course.get("hint_section") or section,
            "hints": [str(h) for h in course["hints"]],
        }
    return found


def collect_hints(chapters: dict[str, Path]) -> dict[str, dict]:
    """``{chapter: exercise_hints(...)}`` for every chapter that has hints, in chapter order."""
    data = {}
    for stem, source in chapters.items():
        found = exercise_hints(nbformat.read(str(source), as_version=4))
        if found:
            data[stem] = found
    return data


def render_hints(chapters: dict[str, Path]) -> str:
    """The exact text of ``course_utils/hints.json`` for ``chapters``."""
    return json.dumps(collect_hints(chapters), ensure_ascii=False, indent=1) + "\n"


def _is_course(source_dir: Path, out_dir: Path) -> bool:
    """Is this a release of the course's own notebooks into its committed copies? Only that one
    (re)writes ``course_utils/hints.json``; ``--out DIR`` or another source leaves it alone."""
    return (
        Path(source_dir).resolve() == NOTEBOOKS.resolve()
        and Path(out_dir).resolve() == RELEASE.resolve()
    )


class Release(LoggingConfigurable):
    """Generate the student copy of each chapter notebook (one nbgrader assignment per chapter)."""

    notebook_glob = Unicode(
        CHAPTER_GLOB,
        help="Glob, relative to the source folder, of the chapter notebooks to release.",
    ).tag(config=True)

    preprocessors = List(
        [
            IncludeHeaderFooter,
            LockCells,
            ClearSolutions,
            ClearOutput,
            CheckCellMetadata,
            ComputeChecksums,
            ClearHiddenTests,
            ClearMarkScheme,
            ComputeChecksums,
            CheckCellMetadata,
        ],
        help="nbgrader preprocessors applied, in order, to make a student copy "
        "(nbgrader's generate_assignment list without the gradebook and AUTOTEST steps).",
    ).tag(config=True)

    def _pipeline(self):
        return [pp(parent=self) for pp in self.preprocessors]

    def student_copy(self, source: Path) -> nbformat.NotebookNode:
        """Return the student copy of the instructor notebook ``source``."""
        nb = nbformat.read(str(source), as_version=4)
        stem = Path(source).stem
        resources = {
            "unique_key": stem,
            "nbgrader": {"notebook": stem, "assignment": stem, "student": "."},
        }
        for pp in self._pipeline():
            nb, resources = pp(nb, resources)
        return nb

    def chapters(self, source_dir: Path = NOTEBOOKS) -> dict[str, Path]:
        """Map assignment id (notebook stem) to instructor notebook, in chapter order."""
        return chapters(source_dir, self.notebook_glob)

    def render(self, source: Path) -> str:
        """The student copy of ``source`` as the exact text that is written to disk."""
        text = nbformat.writes(self.student_copy(source))
        return text if text.endswith("\n") else text + "\n"

    def release_all(self, source_dir: Path = NOTEBOOKS, out_dir: Path = RELEASE) -> list[Path]:
        """Write ``<out>/<stem>/<stem>.ipynb`` for every chapter; return the written paths."""
        written = []
        for stem, source in self.chapters(source_dir).items():
            dest = release_path(stem, out_dir)
            text = self.render(source)
            if dest.exists() and dest.read_text(encoding="utf-8") == text:
                self.log.info("Unchanged %s", dest)
            else:
                atomic_write_text(dest, text)
                self.log.info("Wrote %s", dest)
            written.append(dest)
        if _is_course(source_dir, out_dir):
            text = render_hints(self.chapters(source_dir))
            if not HINTS.exists() or HINTS.read_text(encoding="utf-8") != text:
                atomic_write_text(HINTS, text)
                self.log.info("Wrote %s", HINTS)
        return written

    def drift(self, source_dir: Path = NOTEBOOKS, out_dir: Path = RELEASE) -> list[str]:
        """Describe every difference between the committed student copies and a fresh release."""
        problems = []
        chapters = self.chapters(source_dir)
        for stem, source in chapters.items():
            dest = release_path(stem, out_dir)
            if not dest.exists():
                problems.append(f"{dest} is missing")
            elif dest.read_text(encoding="utf-8") != self.render(source):
                problems.append(f"{dest} differs from a fresh release of {source.name}")
        if Path(out_dir).is_dir():
            for folder in sorted(Path(out_dir).iterdir()):
                if folder.is_dir() and folder.name not in chapters:
                    problems.append(f"{folder} has no chapter notebook in {source_dir}")
        if _is_course(source_dir, out_dir):
            problems += self.hints_drift(source_dir)
        return problems

    def hints_drift(self, source_dir: Path = NOTEBOOKS, hints_path: Path = HINTS) -> list[str]:
        """The difference, if any, between ``hints_path`` and the hints of the notebooks."""
        if not Path(hints_path).exists():
            return [f"{hints_path} is missing"]
        if Path(hints_path).read_text(encoding="utf-8") != render_hints(self.chapters(source_dir)):
            return [f"{hints_path} differs from the hints in {source_dir}"]
        return []
