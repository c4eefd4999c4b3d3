"""Execute a notebook in a fresh kernel, the way the tests and a student's "Run All" do."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder.paths import chapters

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"


def chapter_notebooks() -> list[Path]:
    """Every chapter notebook under notebooks/, in chapter order."""
    return list(chapters().values())


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
