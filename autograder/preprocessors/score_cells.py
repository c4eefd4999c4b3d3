"""Score each grade cell: full points if it ran and raised nothing, else 0."""

from __future__ import annotations

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution, is_task
from traitlets import Unicode

from autograder.paths import autograded_points


class ScoreCells(NbGraderPreprocessor):
    """Score the autograded cells and record the totals for the CSV and the feedback.

    Unlike nbgrader's ``determine_grade``, a grade cell passes only if it actually executed
    (a cell after a dead kernel or a timeout scores 0, not full marks), the kernel's execute
    reply for its visible part said ``ok`` and carried the completion token
    (``resources["autograder"]["verdicts"]``, set by ``ExecuteGraded``), no error shows in its
    outputs, and its hidden tests passed. Output on stderr is not a failure: TensorFlow and
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

    hidden_not_run_message = Unicode(
        "隐藏测试没有运行 (hidden tests did not run: time ran out or the kernel died first)",
        help="Text shown under a grade cell whose hidden tests never ran.",
    ).tag(config=True)

    not_completed_message = Unicode(
        "这一格没有正常运行完 (the grade cell did not complete: the kernel reported an error, "
        "or its code was changed or cut short while it ran)",
        help="Text shown under a grade cell whose execution the grader could not confirm.",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict):
        state = resources.setdefault("autograder", {})
        executed = state.get("executed_grade_ids", set())
        verdicts = state.get("verdicts", {})
        hidden_ok = state.get("hidden_results", {})
        hidden = state.get("hidden_tests", {})
        notes = state.setdefault("notes", [])
        cells_scores: dict[str, tuple[float, float]] = {}
        cells: list[dict] = []
        not_run: list[str] = []
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
            if ran and not errors and verdicts.get(gid) is not True:
                cell.outputs.append(
                    new_output(
                        "error",
                        ename="GradeCellNotCompleted",
                        evalue=self.not_completed_message,
                        traceback=[self.not_completed_message],
                    )
                )
                errors = True
            if not ran:
                cell.outputs.append(
                    new_output("stream", name="stderr", text=self.not_executed_message + "\n")
                )
            elif not errors and gid in hidden and hidden_ok.get(gid) is not True:
                text = (
                    self.hidden_failed_message if gid in hidden_ok else self.hidden_not_run_message
                )
                if gid not in hidden_ok:
                    not_run.append(gid)
                cell.outputs.append(
                    new_output("error", ename="HiddenTestsFailed", evalue=text, traceback=[text])
                )
                errors = True
            score = points if ran and not errors else 0.0
            cell.metadata.nbgrader["score"] = score
            cells_scores[gid] = (score, points)
            if score:
                status = "passed"
            elif not ran:
                status = "not_run"
            elif gid in hidden and hidden_ok.get(gid) is False:
                status = "hidden_failed"
            else:
                status = "failed"
            cells.append({"grade_id": gid, "score": score, "max_score": points, "status": status})
        if not_run:
            notes.append(
                f"hidden tests of {', '.join(not_run)} did not run (they run after the last "
                "cell, and the kernel stopped first): scored 0"
            )
        if manual_points:
            notes.append(f"{manual_points:g} points need manual grading")
        state["cell_scores"] = cells_scores
        state["cells"] = cells
        flags = state.get("flags", []) + state.get("runtime_flags", [])
        if flags:
            # Still graded (the score stands), but named for a human to review.
            earlier = state.get("reason", "")
            state["status"] = "flagged"
            state["reason"] = "flagged: " + "; ".join(flags) + (f"; {earlier}" if earlier else "")
        state["score"] = sum(s for s, _ in cells_scores.values())
        # The instructor notebook defines the maximum (paths.autograded_points), so a deleted
        # grade cell that was not re-inserted still counts, as it does in the CSV.
        source_nb = state.get("source_nb")
        state["max_score"] = (
            sum(autograded_points(source_nb).values())
            if source_nb is not None
            else sum(p for _, p in cells_scores.values())
        )
        nbg = resources.setdefault("nbgrader", {})
        nbg.update(score=state["score"], max_score=state["max_score"], late_penalty=0)
        return nb, resources
