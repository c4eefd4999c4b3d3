"""``python -m autograder lint``: every chapter's hidden blocks split cleanly for the grader.

An instructor notebook passes when each autograded cell has a hidden block made only of
``probe``/``expect``/``constrain`` statements and the inputs and reference helpers they need,
every probe has its expect, and the reference side reads nothing the student's code defines
(``autograder/hidden_tests.py`` has the rules). ``check`` and the tests run it too.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.hidden_tests import HiddenTestError, split_notebook


def lint_notebook(path: Path) -> list[str]:
    """The problems of one instructor notebook (empty: none)."""
    nb = nbformat.read(str(path), as_version=4)
    try:
        split_notebook(nb)
    except HiddenTestError as exc:
        return [f"{Path(path).name}: {line}" for line in str(exc).splitlines()]
    return []


def lint_all(paths) -> list[str]:
    """The problems of every notebook in ``paths``."""
    return [problem for p in paths for problem in lint_notebook(p)]
