"""Where things live (the repository, the chapter sources, the committed student copies), and
how every command writes its files (atomically)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent
#: The instructor notebooks, the single source of truth.
NOTEBOOKS = REPO / "notebooks"
#: The committed student copies, ``release/<assignment>/<notebook>.ipynb``.
RELEASE = PACKAGE / "release"
#: The configuration file loaded by every command.
CONFIG_FILE = PACKAGE / "nbgrader_config.py"
#: Chapter notebooks, ``NN_<topic>.ipynb``: the one definition of the chapter glob. It is the
#: default of ``Release.notebook_glob`` (set that option in ``nbgrader_config.py`` to change it);
#: every command finds the chapters through ``chapters()``.
CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"


def chapters(source_dir: Path = NOTEBOOKS, pattern: str = CHAPTER_GLOB) -> dict[str, Path]:
    """Map each chapter's assignment id (the notebook stem) to its instructor notebook, in order."""
    return {p.stem: p for p in sorted(Path(source_dir).glob(pattern))}


def autograded_points(nb) -> dict[str, float]:
    """``{grade_id: points}`` of the autograded cells of an instructor notebook, in cell order.

    Autograded cells are nbgrader grade cells that are code and not answer cells (answer cells
    that carry points, and task cells, are graded by hand). This is the one definition of a
    chapter's ``max_score``: the CSV, the per-cell JSON and the gradebook all use it, so a grade
    cell a student deleted still counts (scoring 0) whether or not it is re-inserted.
    """
    from nbgrader.utils import is_grade, is_solution

    return {
        cell.metadata.nbgrader["grade_id"]: float(cell.metadata.nbgrader.get("points", 0) or 0)
        for cell in nb.cells
        if cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)
    }


def release_path(stem: str, out_dir: Path = RELEASE) -> Path:
    """Where the student copy of chapter ``stem`` goes: ``<out>/<stem>/<stem>.ipynb``."""
    return Path(out_dir) / stem / f"{stem}.ipynb"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
