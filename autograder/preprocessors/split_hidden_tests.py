"""Take the hidden tests out of each grade cell before it runs, to run them on their own."""

from __future__ import annotations

import textwrap

from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.utils import is_grade, is_solution


class SplitHiddenTests(ClearHiddenTests):
    """Split every grade cell into its visible checks and its hidden tests.

    The cell keeps only the visible part, exactly what the student copy shows (nbgrader's
    ``ClearHiddenTests`` rule). The hidden lines go to
    ``resources["autograder"]["hidden_tests"][grade_id]``; ``ExecuteGraded`` runs them as a
    separate execution right after the visible part passes and keeps none of their output, so
    neither their source nor their tracebacks can reach the feedback. Hidden lines are dedented,
    so they must be runnable at the top level of the cell (``python -m autograder check`` fails
    on an instructor notebook where they are not).

    It is a ``ClearHiddenTests`` (the preprocessor that makes the student copy), so the
    delimiters are one setting for release, grading and ``RestoreCells``:
    ``c.ClearHiddenTests.begin_test_delimeter`` / ``end_test_delimeter`` (nbgrader's spelling).
    ``ExecuteGraded`` runs the hidden tests after the last cell, never while student code can
    still show anything.
    """

    def split(self, source: str) -> tuple[str, str]:
        """Return ``(visible, hidden)`` parts of a grade cell's source."""
        visible, hidden, blocks = [], [], []
        inside = False
        for line in source.split("\n"):
            if self.begin_test_delimeter in line:
                if inside:
                    raise ValueError(f"nested {self.begin_test_delimeter}")
                inside = True
                hidden = []
            elif self.end_test_delimeter in line:
                if not inside:
                    raise ValueError(
                        f"{self.end_test_delimeter} without {self.begin_test_delimeter}"
                    )
                inside = False
                blocks.append(textwrap.dedent("\n".join(hidden)))
            elif inside:
                hidden.append(line)
            else:
                visible.append(line)
        if inside:
            raise ValueError(f"{self.begin_test_delimeter} without {self.end_test_delimeter}")
        return "\n".join(visible), "\n".join(b for b in blocks if b.strip())

    def visible(self, source: str) -> str:
        """The source as the student copy shows it (hidden regions cut out)."""
        return self.split(source)[0]

    def preprocess(self, nb: NotebookNode, resources: dict):
        hidden_tests = resources.setdefault("autograder", {}).setdefault("hidden_tests", {})
        for cell in nb.cells:
            if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
                continue
            visible, hidden = self.split(cell.source)
            cell.source = visible
            if hidden.strip():
                hidden_tests[cell.metadata.nbgrader["grade_id"]] = hidden
        return nb, resources
