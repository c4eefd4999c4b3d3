"""Grade one submitted notebook: read it, restore grade cells, run it, score it, write feedback.

``NotebookGrader`` lives in a grading worker process and is reused for every notebook that
worker grades (its preprocessors and the parsed instructor notebooks are built once).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

import nbformat
from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, LimitOutput
from traitlets import Instance, Integer, List
from traitlets.config import LoggingConfigurable

from autograder.feedback import FeedbackWriter
from autograder.paths import autograded_points
from autograder.preprocessors import (
    ExecuteGraded,
    PlanCells,
    RestoreCells,
    ScoreCells,
    SplitHiddenTests,
)
from autograder.preprocessors.plan_cells import PLAN, WHOLE
from autograder.reference import load as load_expected
from autograder.sandbox import (
    CPU_LIMIT_EXIT,
    OUT_OF_MEMORY,
    Sandbox,
    format_size,
    kernel_manager_class,
    kernel_outcome,
)
from autograder.statuses import CellStatus, RowStatus

MAX_MESSAGE = 300


class NotebookGrader(LoggingConfigurable):
    """Grade submissions of any chapter, one at a time, with nbgrader preprocessors."""

    preprocessors = List(
        [
            ClearOutput,
            RestoreCells,
            CheckCellMetadata,
            SplitHiddenTests,
            PlanCells,
            ExecuteGraded,
            LimitOutput,
            ScoreCells,
        ],
        help="Preprocessors applied, in order, to each submission.",
    ).tag(config=True)

    feedback_writer = Instance(FeedbackWriter, allow_none=True)

    max_size = Integer(
        20 * 1024 * 1024,
        help="Largest submission file graded, in bytes (--max-size, e.g. 20M); a larger one "
        "gets status too_large and is never parsed.",
    ).tag(config=True)

    def __init__(self, **kw):
        super().__init__(**kw)
        self._pipeline = [pp(parent=self) for pp in self.preprocessors]
        self._sources: dict[str, nbformat.NotebookNode] = {}
        self._expected: dict[str, dict] = {}
        self._blank_answers: dict[str, dict[str, str]] = {}
        self._layout = None
        self.sandbox = Sandbox(parent=self)
        self._notebook_timeout = 1800.0
        for pp in self._pipeline:
            if isinstance(pp, ExecuteGraded) and self.sandbox.enabled:
                pp.kernel_manager_class = kernel_manager_class(
                    self.sandbox, pp.kernel_env, pp.notebook_timeout
                )
                self._notebook_timeout = pp.notebook_timeout

    def source(self, path: str) -> nbformat.NotebookNode:
        """The instructor notebook at ``path`` (parsed once per worker)."""
        if path not in self._sources:
            self._sources[path] = nbformat.read(path, as_version=4)
        return self._sources[path]

    def expected(self, job: dict) -> dict:
        """The chapter's expected values (``autograder.reference``; the grading parent computed
        them before any worker started), read once per worker."""
        path = job.get("expected")
        if not path:
            raise SubmissionError(
                f"no expected values for {job['notebook']}: "
                + (job.get("expected_error") or "they were not computed")
            )
        if path not in self._expected:
            self._expected[path] = load_expected(path)
        return self._expected[path]

    def max_points(self, path: str) -> float:
        """Points of the autograded cells of the instructor notebook at ``path``."""
        return sum(autograded_points(self.source(path)).values())

    def grade(self, job: dict, on_kernel_start=None, workdir: str | None = None) -> dict:
        """Grade ``job`` (keys: student_id, notebook, path, source, feedback); return a CSV row.

        Never raises: every failure becomes a row with a status and a one-line message.
        """
        row = {
            "student_id": job["student_id"],
            "notebook": job["notebook"],
            "score": 0.0,
            "max_score": 0.0,
            "status": "error",
            "message": "",
        }
        nb = resources = submitted = None
        try:
            row["max_score"] = self.max_points(job["source"])
            handed_in = read_submission(job["path"], self.max_size, job["student_id"])
            submitted = copy.deepcopy(handed_in) if job.get("course") else None
            expected = self.expected(job)
            nb, resources = self._run(job, handed_in, expected, on_kernel_start, workdir)
            why = self.rerun_reason(job, nb, resources)
            if why:
                nb, resources = self._run(
                    job, handed_in, expected, on_kernel_start, workdir, f"rerun after {why}"
                )
            state = resources["autograder"]
            row.update(score=state["score"], max_score=state["max_score"], status=state["status"])
            parts = ([state["reason"]] if state.get("reason") else []) + state.get("notes", [])
            row["message"] = one_line("; ".join(parts))
            row["run"] = state.get("run", WHOLE)
            row["skipped_cells"] = list(state.get("skipped_cells", []))
        except SubmissionError as exc:
            row["message"] = one_line(str(exc))
            row["status"] = exc.status
            nb = None
        except Exception as exc:  # noqa: BLE001 - one student's notebook never aborts a batch
            self.log.exception("Grading %s of %s failed", job["notebook"], job["student_id"])
            row["message"] = one_line(f"grading failed: {type(exc).__name__}: {exc}")
            row["score"] = 0.0
            nb = None
        if job.get("course"):
            try:
                self._write_course(job, submitted, nb)
            except Exception as exc:  # noqa: BLE001
                self.log.exception("Course folder for %s failed", job["path"])
                row["message"] = one_line(
                    f"{row['message']}; graded notebook not written: {exc}".lstrip("; ")
                )
        if job.get("feedback"):
            try:
                self._write_feedback(job, nb, resources, row)
            except Exception as exc:  # noqa: BLE001
                self.log.exception("Feedback for %s failed", job["path"])
                row["message"] = one_line(
                    f"{row['message']}; feedback not written: {exc}".lstrip("; ")
                )
        return row

    def _run(self, job, handed_in, expected, on_kernel_start, workdir, force_whole=""):
        """Run the pipeline once on a copy of ``handed_in``, in a fresh kernel with a fresh
        private folder; ``force_whole`` (a reason) runs every cell instead of the plan."""
        nb = copy.deepcopy(handed_in)
        tmp = tempfile.mkdtemp(prefix="grade-", dir=workdir)
        # The kernel's private working directory (HOME in the sandbox); ``tmp/tmp`` is its /tmp.
        home = os.path.join(tmp, "home")
        os.mkdir(home)
        _seed_matplotlib_cache(home)
        try:
            resources = {
                "metadata": {"path": home},
                "unique_key": job["notebook"],
                "nbgrader": {
                    "notebook": job["notebook"],
                    "assignment": job["notebook"],
                    "student": job["student_id"],
                },
                "autograder": {
                    "source_nb": self.source(job["source"]),
                    "expected": expected,
                    "notes": [],
                    "force_whole": force_whole,
                },
            }
            if "timings" in job:  # the calibration the parent resolved (and journals with)
                resources["autograder"]["chapter_times"] = job["timings"]
            for pp in self._pipeline:
                if isinstance(pp, ExecuteGraded):
                    pp.on_kernel_start = on_kernel_start
                nb, resources = pp(nb, resources)
            if self.sandbox.enabled:
                self._limits_verdict(nb, resources["autograder"], kernel_outcome(tmp))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return nb, resources

    def rerun_reason(self, job, nb, resources) -> str:
        """Why a notebook graded under the plan must be graded again as a whole ("" if not).

        Fairness: a student never scores lower than a whole run would give. So any grade cell
        that did not pass, or any trouble running the notebook, means a rerun, except a grade
        cell whose answer cells are exactly the blank copy's (an unanswered exercise) and that
        failed because of it (a ``NotImplementedError``, also when a visible check re-raised
        it as its own ``CheckFailed`` naming or chaining it, or the ``NameError`` of a name the
        stub never defined): that fails in a whole run too."""
        state = resources["autograder"]
        if state.get("run") != PLAN:
            return ""
        status = state.get("status")
        if state.get("executed_status", "ok") != "ok" or status not in ("ok", "flagged"):
            return f"status {state.get('executed_status') if status == 'flagged' else status}"
        # A constraint is judged on the source alone, after the probed values matched: the
        # same verdict in a whole run, so no rerun for it.
        failing = [
            c
            for c in state.get("cells", [])
            if c["status"] not in (CellStatus.PASSED.value, CellStatus.CONSTRAINT_FAILED.value)
        ]
        blank = [c for c in failing if self._unanswered(job, nb, state, c["grade_id"])]
        others = [c["grade_id"] for c in failing if c not in blank]
        if others:
            return f"grade cell {others[0]} {'and others ' if len(others) > 1 else ''}failed"
        return ""

    def _unanswered(self, job, nb, state, gid: str) -> bool:
        """Did grade cell ``gid`` fail only because its answer cells are the blank stubs?"""
        from nbgrader.utils import is_grade, is_solution

        from autograder.hidden_tests import answer_cells

        source_nb = state["source_nb"]
        owners = [
            source_nb.cells[i].metadata.nbgrader["grade_id"]
            for i in answer_cells(source_nb).get(gid, [])
        ]
        if not owners:
            return False
        stubs = self._blanks(job["source"])
        answers = {
            c.metadata.nbgrader["grade_id"]: c.source
            for c in nb.cells
            if c.cell_type == "code" and is_solution(c) and not is_grade(c)
        }
        if any(answers.get(a) != stubs.get(a) for a in owners):
            return False
        cell = next(
            (
                c
                for c in nb.cells
                if is_grade(c) and not is_solution(c) and c.metadata.nbgrader["grade_id"] == gid
            ),
            None,
        )
        names = {"NotImplementedError", "NameError"}
        errors = [o for o in (cell.outputs if cell else []) if o.get("output_type") == "error"]
        if errors:  # the checks often re-raise it as CheckFailed, naming it or chaining it
            error = errors[0]
            text = f"{error.get('evalue', '')}\n" + "\n".join(error.get("traceback") or [])
            return error.get("ename") in names or "NotImplementedError" in text
        probe_errors = state.get("probes", {}).get(gid, {}).get("errors", {}).values()
        return bool(probe_errors) and all(e.split(":")[0] in names for e in probe_errors)

    def _blanks(self, path: str) -> dict[str, str]:
        """``{answer grade_id: source}`` of the chapter's blank student copy (once per worker)."""
        if path not in self._blank_answers:
            from nbgrader.utils import is_grade, is_solution

            from autograder.release import Release

            blank = Release(parent=self).student_copy(Path(path))
            self._blank_answers[path] = {
                c.metadata.nbgrader["grade_id"]: c.source
                for c in blank.cells
                if c.cell_type == "code" and is_solution(c) and not is_grade(c)
            }
        return self._blank_answers[path]

    def _limits_verdict(self, nb, state: dict, outcome: dict) -> None:
        """Status ``memory_limit`` (or a CPU-time ``timeout``) when the sandbox's limits hit."""
        limit = format_size(self.sandbox.memory)
        reason = None
        if state["status"] == "kernel_died":
            code = outcome["exit_code"]
            if outcome["oom_killed"] or OUT_OF_MEMORY.search(outcome["log"]):
                reason = f"the kernel was killed for using more than its memory limit ({limit})"
            elif code == CPU_LIMIT_EXIT:
                cpu = self.sandbox.limits(self._notebook_timeout)["RLIMIT_CPU"][0]
                state["status"] = "timeout"
                state["reason"] = (
                    f"the kernel used up its CPU-time limit ({cpu} s) and was stopped; "
                    "cells after it scored 0"
                )
                return
        if state["status"] in ("ok", "kernel_died") and reason is None:
            full = _first_error(nb, DISK_FULL)
            if full is not None:
                state["status"] = RowStatus.DISK_FULL.value
                state["reason"] = (
                    f"cell {full + 1} filled the kernel's disk space ({format_size(self.sandbox.disk)}"
                    " for the home folder and for /tmp)"
                )
                return
            for index, cell in enumerate(nb.cells):
                for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
                    if out.get("output_type") == "error" and out.get("ename") in (
                        "MemoryError",
                        "ResourceExhaustedError",
                    ):
                        reason = (
                            f"cell {index + 1} ran out of memory ({out['ename']}: the limit is "
                            f"{limit} per kernel)"
                        )
                        break
                if reason:
                    break
        if reason:
            earlier = state.get("reason") if state["status"] == "kernel_died" else ""
            state["status"] = "memory_limit"
            state["reason"] = "; ".join(r for r in (reason, earlier) if r)

    def _write_course(self, job, submitted, nb) -> None:
        """nbgrader's ``submitted/`` and ``autograded/`` notebooks (``autograder.course_layout``),
        written before the feedback report changes ``nb``."""
        from autograder.course_layout import CourseLayout

        if self._layout is None:
            self._layout = CourseLayout()
        course = Path(job["course"])
        if submitted is not None:
            self._layout.write_submitted(course, job, submitted)
        if nb is None:
            self._layout.remove_autograded(course, job)
        else:
            self._layout.write_autograded(course, job, nb, self.source(job["source"]))

    def _write_feedback(self, job, nb, resources, row) -> None:
        if self.feedback_writer is None:
            self.feedback_writer = FeedbackWriter(parent=self)
        if nb is None:
            self.feedback_writer.write_error(job["feedback"], job["notebook"], row)
        else:
            self.feedback_writer.write(job["feedback"], nb, resources, row)


#: What a write past the sandbox's disk or file-size limit raises.
DISK_FULL = re.compile(r"No space left on device|Errno 28\b|File too large|Errno 27\b")


def _first_error(nb, pattern: re.Pattern) -> int | None:
    """The index of the first code cell whose error output matches ``pattern``."""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error" and pattern.search(
                f"{out.get('ename', '')}: {out.get('evalue', '')}"
            ):
                return index
    return None


class SubmissionError(Exception):
    """The submitted file cannot be graded at all; the message says why, in one line."""

    def __init__(self, message: str, status: str = "error"):
        super().__init__(message)
        self.status = status


def _seed_matplotlib_cache(home: str) -> None:
    """Copy the grader's matplotlib font cache, so no kernel spends seconds rebuilding it."""
    try:
        import matplotlib

        cache = Path(matplotlib.get_cachedir())
        dest = Path(home) / ".config" / "matplotlib"
        dest.mkdir(parents=True)
        for f in cache.glob("fontlist-*.json"):
            shutil.copyfile(f, dest / f.name)
    except Exception:  # noqa: BLE001 - only a speed-up
        pass


def read_submission(
    path: str, max_size: int = 0, student_id: str | None = None
) -> nbformat.NotebookNode:
    """Read a submitted notebook, or raise ``SubmissionError`` with a readable reason.

    A symbolic link (the file, or a folder between it and the student's folder
    ``student_id``) raises status ``symlink``; a file over ``max_size`` bytes ``too_large``.
    """
    p = Path(path)
    for folder in p.parents if student_id else ():
        if folder.is_symlink():
            raise SubmissionError(
                f"{folder.name}/ is a symbolic link to {os.readlink(folder)}: links are not graded",
                "symlink",
            )
        if folder.name == student_id:
            break
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if p.is_symlink():
            raise SubmissionError(
                f"the submission is a symbolic link (to {os.readlink(p)}): links are not graded",
                "symlink",
            ) from None
        raise SubmissionError(f"cannot read the file: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionError("not a regular file")
        if max_size and info.st_size > max_size:
            raise SubmissionError(
                f"the file is {format_size(info.st_size)}, over the {format_size(max_size)} limit "
                "(--max-size); it was not opened",
                "too_large",
            )
        with os.fdopen(fd, "rb", closefd=False) as fh:
            raw = fh.read(max_size + 1 if max_size else -1)
        if max_size and len(raw) > max_size:
            raise SubmissionError(
                f"the file is over the {format_size(max_size)} limit (--max-size)", "too_large"
            )
    except OSError as exc:
        raise SubmissionError(f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
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
