"""The release step: generate every chapter's student copy with nbgrader's preprocessors.

The pipeline is nbgrader's own ``GenerateAssignment`` pipeline without the steps that need the
sqlite gradebook (``SaveCells``) or a kernel (``InstantiateTests``): grading restores grade cells
from the instructor notebook itself (see ``preprocessors/restore_cells.py``), so no database is
needed. Output is deterministic, so a test can regenerate it and fail on drift.
"""

from __future__ import annotations

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
    atomic_write_text,
    chapters,
    release_path,
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
        return problems
