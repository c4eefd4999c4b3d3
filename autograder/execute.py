"""Grade one submitted notebook: read it, restore grade cells, run it, score it, write feedback.

``NotebookGrader`` lives in a grading worker process and is reused for every notebook that
worker grades (its preprocessors and the parsed instructor notebooks are built once).
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, LimitOutput
from nbgrader.utils import is_grade, is_solution
from traitlets import Instance, List
from traitlets.config import LoggingConfigurable

from autograder.feedback import FeedbackWriter
from autograder.preprocessors import ExecuteGraded, RestoreCells, ScoreCells, SplitHiddenTests

#: Statuses a CSV row can have.
STATUSES = {
    "ok": "graded normally (the message lists any cell the autograder had to repair)",
    "timeout": "a cell or the whole notebook ran out of time; cells that never ran score 0",
    "kernel_died": "the kernel exited (os._exit, crash, out of memory); cells after it score 0",
    "error": "the file could not be graded at all (not a notebook, unreadable, internal error)",
    "unknown_notebook": "the file name matches no chapter in notebooks/",
}

MAX_MESSAGE = 300


class NotebookGrader(LoggingConfigurable):
    """Grade submissions of any chapter, one at a time, with nbgrader preprocessors."""

    preprocessors = List(
        [
            ClearOutput,
            RestoreCells,
            CheckCellMetadata,
            SplitHiddenTests,
            ExecuteGraded,
            LimitOutput,
            ScoreCells,
        ],
        help="Preprocessors applied, in order, to each submission.",
    ).tag(config=True)

    feedback_writer = Instance(FeedbackWriter, allow_none=True)

    def __init__(self, **kw):
        super().__init__(**kw)
        self._pipeline = [pp(parent=self) for pp in self.preprocessors]
        self._sources: dict[str, nbformat.NotebookNode] = {}

    def source(self, path: str) -> nbformat.NotebookNode:
        """The instructor notebook at ``path`` (parsed once per worker)."""
        if path not in self._sources:
            self._sources[path] = nbformat.read(path, as_version=4)
        return self._sources[path]

    def max_points(self, path: str) -> float:
        """Points of the autograded cells of the instructor notebook at ``path``."""
        return sum(
            float(c.metadata.nbgrader.get("points", 0))
            for c in self.source(path).cells
            if c.cell_type == "code" and is_grade(c) and not is_solution(c)
        )

    def grade(self, job: dict, on_kernel_start=None, workdir: str | None = None) -> dict:
        """Grade ``job`` (keys: student_id, notebook, path, source, feedback); return a CSV row.

        Never raises: every failure becomes a row with a status and a one-line message.
        """
        started = time.monotonic()
        row = {
            "student_id": job["student_id"],
            "notebook": job["notebook"],
            "score": 0.0,
            "max_score": 0.0,
            "status": "error",
            "message": "",
        }
        nb = resources = None
        tmp = tempfile.mkdtemp(prefix="grade-", dir=workdir)
        try:
            row["max_score"] = self.max_points(job["source"])
            nb = read_submission(job["path"])
            resources = {
                "metadata": {"path": tmp},
                "unique_key": job["notebook"],
                "nbgrader": {
                    "notebook": job["notebook"],
                    "assignment": job["notebook"],
                    "student": job["student_id"],
                },
                "autograder": {"source_nb": self.source(job["source"]), "notes": []},
            }
            for pp in self._pipeline:
                if isinstance(pp, ExecuteGraded):
                    pp.on_kernel_start = on_kernel_start
                nb, resources = pp(nb, resources)
            state = resources["autograder"]
            row.update(score=state["score"], max_score=state["max_score"], status=state["status"])
            parts = ([state["reason"]] if state.get("reason") else []) + state.get("notes", [])
            row["message"] = one_line("; ".join(parts))
        except SubmissionError as exc:
            row["message"] = one_line(str(exc))
            nb = None
        except Exception as exc:  # noqa: BLE001 - one student's notebook never aborts a batch
            self.log.exception("Grading %s of %s failed", job["notebook"], job["student_id"])
            row["message"] = one_line(f"grading failed: {type(exc).__name__}: {exc}")
            row["score"] = 0.0
            nb = None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if job.get("feedback"):
            try:
                self._write_feedback(job, nb, resources, row)
            except Exception as exc:  # noqa: BLE001
                self.log.exception("Feedback for %s failed", job["path"])
                row["message"] = one_line(
                    f"{row['message']}; feedback not written: {exc}".lstrip("; ")
                )
        row["seconds"] = time.monotonic() - started
        return row

    def _write_feedback(self, job, nb, resources, row) -> None:
        if self.feedback_writer is None:
            self.feedback_writer = FeedbackWriter(parent=self)
        if nb is None:
            self.feedback_writer.write_error(job["feedback"], job["notebook"], row)
        else:
            self.feedback_writer.write(job["feedback"], nb, resources, row)


class SubmissionError(Exception):
    """The submitted file cannot be graded at all; the message says why, in one line."""


def read_submission(path: str) -> nbformat.NotebookNode:
    """Read a submitted notebook, or raise ``SubmissionError`` with a readable reason."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise SubmissionError(f"cannot read the file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubmissionError(
            f"not a notebook: the file is not UTF-8 text (byte {exc.start})"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SubmissionError(
            f"not a valid notebook: broken JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise SubmissionError("not a Jupyter notebook: the JSON has no list of cells")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        raise SubmissionError(f"not a Jupyter notebook this tool can read: {exc}") from None
    nb.cells = [c for c in nb.cells if isinstance(c, dict) and isinstance(c.get("source", ""), str)]
    for cell in nb.cells:
        cell.setdefault("metadata", {})
        if not isinstance(cell["metadata"], dict):
            cell["metadata"] = nbformat.NotebookNode()
        cell.setdefault("source", "")
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            cell["cell_type"] = "raw"
    return copy.deepcopy(nb)


def one_line(text: str) -> str:
    """Collapse ``text`` to one line of at most ``MAX_MESSAGE`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
