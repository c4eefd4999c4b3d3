"""Grading preprocessors, one class per file, composed in order by ``autograder.execute``.

Each extends nbgrader's pipeline the way nbgrader's own preprocessors do: a ``preprocess``
over ``(nb, resources)``, options as traitlets with help text. They share per-notebook state
through ``resources["autograder"]`` (see ``autograder.execute.NotebookGrader``).
"""

from autograder.preprocessors.execute_graded import ExecuteGraded
from autograder.preprocessors.plan_cells import PlanCells
from autograder.preprocessors.restore_cells import RestoreCells
from autograder.preprocessors.score_cells import ScoreCells
from autograder.preprocessors.split_hidden_tests import SplitHiddenTests

__all__ = ["ExecuteGraded", "PlanCells", "RestoreCells", "ScoreCells", "SplitHiddenTests"]
