"""Decide which cells of a submission run: the execution plan, or the whole notebook."""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool

from autograder.plan import make_plan

#: ``run`` of a notebook graded with the plan (the per-cell JSON and the feedback say it).
PLAN = "plan"
#: ``run`` of a notebook run top to bottom; a reason may follow in parentheses.
WHOLE = "whole"


class PlanCells(NbGraderPreprocessor):
    """Choose the cells ``ExecuteGraded`` runs (``autograder.plan``).

    Sets ``resources["autograder"]``: ``plan_cells`` (indices of the code cells to run, or
    None for all), ``run`` (``"plan"``, ``"whole"`` or ``"whole (why)"``, in English for
    instructors) and ``skipped_cells`` (1-based numbers of the cells left out). The whole
    notebook runs under ``--whole``, when ``resources["autograder"]["force_whole"]`` names a
    reason (the grader's rerun after a grade cell failed under the plan), or when a cell the
    student wrote defeats the analysis (``exec``, ``globals()``, a magic, ...).
    """

    whole = Bool(
        False,
        help="Run every code cell of every submission top to bottom (--whole) instead of the "
        "execution plan (Setup, answer and grade cells, the student's own cells and the "
        "tutorial cells they depend on).",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict):
        state = resources.setdefault("autograder", {})
        source_nb = state.get("source_nb")
        reason = state.get("force_whole") or ("--whole" if self.whole else "")
        plan = None
        if not reason and source_nb is not None:
            plan = make_plan(nb, source_nb)
            reason = plan.whole
        if plan is None or plan.whole:
            state["plan_cells"] = None
            state["run"] = f"{WHOLE} ({reason})" if reason else WHOLE
            state["skipped_cells"] = []
        elif not plan.skipped:  # the plan is the whole notebook: no rerun can change anything
            state["plan_cells"] = None
            state["run"] = WHOLE
            state["skipped_cells"] = []
        else:
            state["plan_cells"] = plan.run
            state["run"] = PLAN
            state["skipped_cells"] = [i + 1 for i in plan.skipped]
        return nb, resources
