"""Score each grade cell in the grading process: the probed values against the expected ones,
and the task's constraints against the student's source. The kernel's word counts for nothing."""

from __future__ import annotations

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_locked, is_solution, is_task
from traitlets import Unicode

from autograder.constraints import judge
from autograder.hidden_tests import answer_cells, setup_sources
from autograder.paths import autograded_points
from autograder.statuses import CellStatus, RowStatus
from course_utils.grading import compare

MAX_DETAIL = 200  # characters of one probe's error shown (the text comes from the kernel)
MAX_MESSAGE = 200  # characters of a failed cell's check message kept in the results


def check_message(outputs) -> str:
    """The first line of the first error a cell showed (a visible check's ``CheckFailed``
    message), clipped to ``MAX_MESSAGE`` characters; the error's name if it had no text."""
    error = next((o for o in outputs if o.get("output_type") == "error"), None)
    if error is None:
        return ""
    lines = str(error.get("evalue", "") or "").strip().splitlines()
    text = lines[0].strip() if lines else str(error.get("ename", "") or "")
    return text[:MAX_MESSAGE]


def student_sources(nb, source_nb) -> tuple[dict[str, str], list[str]]:
    """What the student wrote: ``({answer grade_id: source}, [other cells written or edited])``.

    Other cells are code cells without nbgrader metadata whose source is not exactly one of the
    instructor's (tutorial cells the student edited, cells the student added).
    """
    answers: dict[str, str] = {}
    others: list[str] = []
    instructor = {c.source for c in source_nb.cells if c.cell_type == "code"}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if is_solution(cell) and not is_grade(cell):
            answers[cell.metadata.nbgrader["grade_id"]] = cell.source
        elif not (is_grade(cell) or is_locked(cell)) and cell.source not in instructor:
            others.append(cell.source)
    return answers, others


class ScoreCells(NbGraderPreprocessor):
    """Score the autograded cells and record the totals for the CSV, the JSON and the feedback.

    A grade cell earns its points only if it ran, its visible checks showed no error (the
    kernel may lower a grade, never raise it), every ``expect`` of its hidden block matches the
    value the kernel probed (``course_utils.grading.compare``, run here, on plain data, against
    ``resources["autograder"]["expected"]`` from ``autograder.reference``), and the task's
    constraints hold on the student's source (``autograder.constraints``). Cells graded by hand
    are left out and mentioned in the notes. This is the one place a cell's status is decided
    (``autograder.statuses.CellStatus``).
    """

    not_executed_message = Unicode(
        "这一格没有运行，得 0 分 (not executed: the kernel died or time ran out before this cell)",
        help="Text added under a grade cell that never ran.",
    ).tag(config=True)

    hidden_failed_message = Unicode(
        "隐藏测试未通过 (hidden tests failed)",
        help="Text shown under a grade cell whose probed values did not match.",
    ).tag(config=True)

    constraint_message = Unicode(
        "没有满足练习的要求 (a constraint of the task is not met)",
        help="Text shown under a grade cell whose answer breaks a constraint of the task.",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict):
        state = resources.setdefault("autograder", {})
        executed = state.get("executed_grade_ids", set())
        probes = state.get("probes", {})
        expected = state.get("expected", {})
        blocks = state.get("hidden_blocks", {})
        source_nb = state.get("source_nb")
        notes = state.setdefault("notes", [])
        answers, others = student_sources(nb, source_nb) if source_nb is not None else ({}, [])
        owners = answer_cells(source_nb) if source_nb is not None else {}
        setup = setup_sources(source_nb) if source_nb is not None else []
        cells: list[dict] = []
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
            message = ""  # why the cell failed, for the class report (autograder.report)
            if gid not in executed:
                status, detail = CellStatus.NOT_RUN, ""
                cell.outputs.append(
                    new_output("stream", name="stderr", text=self.not_executed_message + "\n")
                )
            elif any(o.get("output_type") == "error" for o in cell.outputs):
                status, detail = CellStatus.FAILED, ""
                message = check_message(cell.outputs)
            else:
                own = [a for a in self._answer_ids(source_nb, owners, gid) if a in answers]
                mine = "\n\n".join(answers[a] for a in own)
                rest = [s for a, s in answers.items() if a not in own] + others
                status, detail = self._judge(
                    expected.get(gid), probes.get(gid), blocks.get(gid), mine, rest, setup
                )
                if status is not CellStatus.PASSED:
                    title = (
                        self.constraint_message
                        if status is CellStatus.CONSTRAINT_FAILED
                        else self.hidden_failed_message
                    )
                    text = f"{title}: {detail}" if detail else title
                    message = detail or title
                    cell.outputs.append(
                        new_output("error", ename=status.value, evalue=text, traceback=[text])
                    )
            score = points if status is CellStatus.PASSED else 0.0
            cell.metadata.nbgrader["score"] = score
            cells.append(
                {
                    "grade_id": gid,
                    "score": score,
                    "max_score": points,
                    "status": status.value,
                    "message": message,
                }
            )
        if manual_points:
            notes.append(f"{manual_points:g} points need manual grading")
        state["cells"] = cells
        flags = state.get("flags", [])
        if flags:
            # Still graded (the score stands), but named for a human to review.
            earlier = state.get("reason", "")
            state["status"] = RowStatus.FLAGGED.value
            state["reason"] = "flagged: " + "; ".join(flags) + (f"; {earlier}" if earlier else "")
        state["score"] = sum(c["score"] for c in cells)
        # The instructor notebook defines the maximum (paths.autograded_points), so a deleted
        # grade cell that was not re-inserted still counts, as it does in the CSV.
        state["max_score"] = (
            sum(autograded_points(source_nb).values())
            if source_nb is not None
            else sum(c["max_score"] for c in cells)
        )
        nbg = resources.setdefault("nbgrader", {})
        nbg.update(score=state["score"], max_score=state["max_score"], late_penalty=0)
        return nb, resources

    @staticmethod
    def _answer_ids(source_nb, owners: dict, gid: str) -> list[str]:
        return [source_nb.cells[i].metadata.nbgrader["grade_id"] for i in owners.get(gid, [])]

    @staticmethod
    def _judge(want, got, block, mine, rest, setup) -> tuple[CellStatus, str]:
        if not want:
            return CellStatus.HIDDEN_FAILED, "no expected values for this cell"
        got = got or {"probed": {}, "errors": {}}
        failures = []
        for key, spec in want.items():
            if key in got["errors"]:
                failures.append(f"{key}: {str(got['errors'][key])[:MAX_DETAIL]}")
            elif key not in got["probed"]:
                failures.append(f"{key}: not computed")
            else:
                try:
                    ok, why = compare(got["probed"][key], spec["value"], spec)
                except (TypeError, ValueError, KeyError, RecursionError, MemoryError):
                    ok, why = False, "not a value the test can read"
                if not ok:
                    failures.append(f"{key}: {why}")
        if failures:
            return CellStatus.HIDDEN_FAILED, "; ".join(failures[:5])
        if block is not None and block.constraints:
            verdict = judge(block.constraints, mine, rest, setup)
            if not verdict.ok:
                return CellStatus.CONSTRAINT_FAILED, verdict.reason
        return CellStatus.PASSED, ""
