"""Take the hidden tests out of each grade cell before it runs, to run them on their own."""

from __future__ import annotations

import textwrap

from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.utils import is_grade, is_solution

from autograder.hidden_tests import split_notebook


class SplitHiddenTests(ClearHiddenTests):
    """Split every grade cell into its visible checks and its hidden tests.

    The cell keeps only the visible part, exactly what the student copy shows (nbgrader's
    ``ClearHiddenTests`` rule). The instructor notebook's hidden blocks, split into their
    student and reference sides (``autograder.hidden_tests.split_notebook``), go to
    ``resources["autograder"]["hidden_blocks"][grade_id]``: ``ExecuteGraded`` runs the probes
    right after the visible part, output discarded, and ``ScoreCells`` judges them against the
    expected values of ``autograder.reference``.

    It is a ``ClearHiddenTests`` (the preprocessor that makes the student copy), so the
    delimiters are one setting for release, grading and ``RestoreCells``:
    ``c.ClearHiddenTests.begin_test_delimeter`` / ``end_test_delimeter`` (nbgrader's spelling).
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
        state = resources.setdefault("autograder", {})
        source_nb = state.get("source_nb")
        # The hidden blocks come from the instructor notebook, never from the submission.
        state["hidden_blocks"] = split_notebook(source_nb) if source_nb is not None else {}
        for cell in nb.cells:
            if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
                continue
            cell.source = self.visible(cell.source)
        return nb, resources
