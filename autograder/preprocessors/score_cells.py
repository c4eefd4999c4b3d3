"""Score each grade cell: full points if it ran and raised nothing, else 0."""

from __future__ import annotations

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution, is_task
from traitlets import Unicode


class ScoreCells(NbGraderPreprocessor):
    """Score the autograded cells and record the totals for the CSV and the feedback.

    Unlike nbgrader's ``determine_grade``, a grade cell passes only if it actually executed
    (a cell after a dead kernel or a timeout scores 0, not full marks), raised no error in its
    visible part and its hidden tests passed. Output on stderr is not a failure: TensorFlow and
    NumPy print harmless warnings there. Cells graded by hand (answer cells that are also grade
    cells, task cells) are left out of the autograded score and mentioned in the notes.
    """

    not_executed_message = Unicode(
        "这一格没有运行，得 0 分 (not executed: the kernel died or time ran out before this cell)",
        help="Text added under a grade cell that never ran.",
    ).tag(config=True)

    hidden_failed_message = Unicode(
        "隐藏测试未通过 (hidden tests failed)",
        help="Text shown under a grade cell whose hidden tests failed (their code is never shown).",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict):
        state = resources.setdefault("autograder", {})
        executed = state.get("executed_grade_ids", set())
        hidden_ok = state.get("hidden_results", {})
        notes = state.setdefault("notes", [])
        cells_scores: dict[str, tuple[float, float]] = {}
        manual_points = 0.0
        for cell in nb.cells:
            if is_task(cell) or (
                is_grade(cell) and (is_solution(cell) or cell.cell_type != "code")
            ):
                manual_points += float(cell.metadata.nbgrader.get("points", 0) or 0)
                continue
            if not is_grade(cell):
                continue
            gid = cell.metadata.nbgrader["grade_id"]
            points = float(cell.metadata.nbgrader["points"])
            ran = gid in executed
            errors = any(o.get("output_type") == "error" for o in cell.outputs)
            if not ran:
                cell.outputs.append(
                    new_output("stream", name="stderr", text=self.not_executed_message + "\n")
                )
            elif not errors and hidden_ok.get(gid) is False:
                cell.outputs.append(
                    new_output(
                        "error",
                        ename="HiddenTestsFailed",
                        evalue=self.hidden_failed_message,
                        traceback=[self.hidden_failed_message],
                    )
                )
                errors = True
            score = points if ran and not errors else 0.0
            cell.metadata.nbgrader["score"] = score
            cells_scores[gid] = (score, points)
        if manual_points:
            notes.append(f"{manual_points:g} points need manual grading")
        state["cell_scores"] = cells_scores
        state["score"] = sum(s for s, _ in cells_scores.values())
        state["max_score"] = sum(p for _, p in cells_scores.values())
        nbg = resources.setdefault("nbgrader", {})
        nbg.update(score=state["score"], max_score=state["max_score"], late_penalty=0)
        return nb, resources
