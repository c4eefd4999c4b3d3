"""Take the hidden tests out of each grade cell before it runs, to run them on their own."""

from __future__ import annotations

import textwrap

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Unicode


class SplitHiddenTests(NbGraderPreprocessor):
    """Split every grade cell into its visible checks and its hidden tests.

    The cell keeps only the visible part, exactly what the student copy shows (nbgrader's
    ``ClearHiddenTests`` rule). The hidden lines go to
    ``resources["autograder"]["hidden_tests"][grade_id]``; ``ExecuteGraded`` runs them as a
    separate execution right after the visible part passes and keeps none of their output, so
    neither their source nor their tracebacks can reach the feedback. Hidden lines are dedented,
    so they must be runnable at the top level of the cell (``python -m autograder check`` fails
    on an instructor notebook where they are not).
    """

    begin_test_delimeter = Unicode(
        "BEGIN HIDDEN TESTS", help="The delimiter marking the beginning of hidden tests"
    ).tag(config=True)

    end_test_delimeter = Unicode(
        "END HIDDEN TESTS", help="The delimiter marking the end of hidden tests"
    ).tag(config=True)

    def split(self, source: str) -> tuple[str, str]:
        """Return ``(visible, hidden)`` parts of a grade cell's source."""
        visible, hidden, blocks = [], [], []
        inside = False
        for line in source.split("\n"):
            if self.begin_test_delimeter in line:
                if inside:
                    raise ValueError("nested BEGIN HIDDEN TESTS")
                inside = True
                hidden = []
            elif self.end_test_delimeter in line:
                if not inside:
                    raise ValueError("END HIDDEN TESTS without BEGIN HIDDEN TESTS")
                inside = False
                blocks.append(textwrap.dedent("\n".join(hidden)))
            elif inside:
                hidden.append(line)
            else:
                visible.append(line)
        if inside:
            raise ValueError("BEGIN HIDDEN TESTS without END HIDDEN TESTS")
        return "\n".join(visible), "\n".join(b for b in blocks if b.strip())

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
