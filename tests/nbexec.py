"""Execute a notebook in a fresh kernel, the way the tests and a student's "Run All" do."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"


def chapter_notebooks() -> list[Path]:
    """Every chapter notebook under notebooks/, in chapter order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def kernel_env(size: str = "small", **extra: str) -> dict[str, str]:
    """Environment for the kernel: the course size switch and quiet TensorFlow logs."""
    env = dict(os.environ)
    env.update(
        COURSE_SIZE=size,
        TF_CPP_MIN_LOG_LEVEL="2",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    env.update(extra)
    return env


def execute(
    path: Path | str,
    cwd: Path | str,
    size: str = "small",
    timeout: int = 300,
    allow_errors: bool = False,
    nb=None,
):
    """Run ``path`` (or the given ``nb``) top to bottom in a fresh kernel; return the notebook.

    Raises ``nbclient.exceptions.CellExecutionError`` on the first failing cell unless
    ``allow_errors``.
    """
    if nb is None:
        nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(cwd)}},
    )
    # nbclient passes extra keyword arguments through to the kernel manager.
    client.execute(env=kernel_env(size))
    return nb


def blank_copy(nb):
    """A quick stand-in for the student copy: solutions replaced, hidden tests removed.

    The real release is made by ``python -m autograder release`` with nbgrader's machinery;
    this is only for checking, without nbgrader, that every grade cell fails when blank.
    """
    import copy
    import re

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            cell.source = re.sub(
                r"( *)### BEGIN SOLUTION.*?### END SOLUTION",
                lambda m: m.group(1) + "raise NotImplementedError()",
                cell.source,
                flags=re.S,
            )
        if meta.get("grade"):
            cell.source = re.sub(
                r"\n?[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[^\n]*",
                "",
                cell.source,
                flags=re.S,
            )
    return nb


def grade_cell_results(nb) -> dict[str, bool]:
    """Map each grade cell's grade_id to True when it ran without an error output."""
    results = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            ok = not any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            results[meta["grade_id"]] = ok
    return results
