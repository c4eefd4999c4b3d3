"""The grade step: grade a folder of submissions in parallel and write the CSV.

The parent process finds the submissions, hands them to ``workers`` long-lived grading
processes (each in its own process session, each reusing one ``NotebookGrader``), enforces the
per-notebook deadline from outside (a worker or kernel that overruns its wall-clock backstop is
killed and replaced)
and writes the CSV once, atomically, sorted by student and notebook. Results do not depend on
the number of workers or on timing.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from multiprocessing.connection import wait
from pathlib import Path

from traitlets import Bool, Float, Integer
from traitlets.config import LoggingConfigurable

from autograder.execute import NotebookGrader, one_line
from autograder.gradebook import (
    attach_cell_recorder,
    chapter_points,
    complete_cells,
    finish_row,
    job_points,
)
from autograder.paths import NOTEBOOKS, chapters
from autograder.reference import References
from autograder.statuses import RowStatus

log = logging.getLogger("autograder")


def find_submissions(root: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """Find ``<student_id>/<notebook>.ipynb`` (or ``<student_id>/<assignment>/<notebook>.ipynb``,
    as ``nbgrader collect`` lays them out) under ``root``.

    Returns ``(submissions, warnings)``; hidden folders such as ``.ipynb_checkpoints`` are skipped.
    """
    root = Path(root)
    found, warnings, seen = [], [], {}
    if not root.is_dir():
        raise FileNotFoundError(f"submissions folder not found: {root}")
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            warnings.append(f"ignored {entry}: expected one folder per student")
            continue
        for path in sorted(entry.rglob("*.ipynb")):
            rel = path.relative_to(entry)
            if any(part.startswith(".") for part in rel.parts):
                continue
            key = (entry.name, path.stem)
            if key in seen:
                warnings.append(f"ignored {path}: {entry.name} already has {seen[key]}")
                continue
            seen[key] = path
            found.append((entry.name, path))
    return found, warnings


def _worker_main(conn, config, workdir: str) -> None:
    """A grading process: grade the jobs it receives until it gets ``None``."""
    parent = os.getppid()
    os.setsid()  # own session: the parent can kill it and nothing from the terminal reaches it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    logging.basicConfig(
        level=logging.WARNING, format="[autograder worker] %(levelname)s %(message)s"
    )
    grader = NotebookGrader(config=config)
    recorder = attach_cell_recorder(grader)  # per-cell results for the JSON and the gradebook
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return

        def report(pid, key=job["key"]):
            conn.send(("kernel", key, pid))

        recorder.reset()
        row = grader.grade(job, on_kernel_start=report, workdir=workdir)
        conn.send(("done", job["key"], finish_row(row, job, recorder.cells)))


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker when the grading process dies, however it dies (``kill
    -9`` included): an orphaned worker would go on writing the feedback and course files of a
    notebook that the re-run grades again. The worker's kernel dies with the worker (bwrap
    ``--die-with-parent``)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


class _Worker:
    def __init__(self, ctx, config, workdir):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, config, workdir), daemon=True)
        self.process.start()
        child.close()
        self.job = None
        self.kernel_pid = None
        self.started = 0.0

    def kill(self) -> None:
        for pid in (self.kernel_pid, self.process.pid):
            if pid:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
        self.process.join(5)
        self.conn.close()


class GradeRunner(LoggingConfigurable):
    """Grade many notebooks with a pool of worker processes and a hard per-notebook deadline."""

    workers = Integer(0, help="Grading processes run in parallel; 0 means one per CPU core.").tag(
        config=True
    )

    kill_grace = Float(
        30.0,
        help="Seconds past ExecuteGraded.notebook_timeout (twice that under the execution "
        "plan, which may rerun a notebook whole) before the parent kills a worker and its "
        "kernel (a worker normally stops the notebook itself at the deadline).",
    ).tag(config=True)

    progress = Bool(True, help="Show a progress bar on stderr.").tag(config=True)

    def n_workers(self, n_jobs: int) -> int:
        n = self.workers or os.cpu_count() or 1
        if not self.workers:  # automatic: as many kernels as the memory available holds
            from autograder.sandbox import Sandbox

            n = min(n, Sandbox(config=self.config).max_workers())
        return max(1, min(n, n_jobs))

    def notebook_timeout(self) -> float:
        return float(self.config.ExecuteGraded.get("notebook_timeout", 1800.0))

    def runs_per_notebook(self) -> int:
        """Kernel runs one notebook may need: under the execution plan, a grade cell that fails
        means a second, whole run (``NotebookGrader.rerun_reason``), with a deadline of its own."""
        return 1 if self.config.PlanCells.get("whole", False) else 2

    def hard_deadline(self) -> float:
        """Wall-clock seconds after which the parent kills a worker and its kernel: the
        notebook limit's wall-clock backstop (limits count charged seconds) for each run the
        notebook may need, plus kill_grace."""
        from autograder.preprocessors.time_limits import TimeLimits

        wall = TimeLimits.wall_seconds(self.config, self.notebook_timeout())
        return wall * self.runs_per_notebook() + self.kill_grace

    def run(self, jobs: list[dict], desc: str = "grading", journal=None) -> list[dict]:
        """Grade ``jobs`` (dicts with student_id, notebook, path, source, feedback); return rows.

        With a ``journal`` (``autograder.journal.Journal``), a job whose row it holds for the
        same inputs is not graded again, and every row is journaled as soon as it is known.
        Before grading, each chapter's expected values are computed and its time limits
        calibrated (both cached); ``job["timings"]`` carries the calibration a job is graded
        with, so the journal keys on it.
        """
        self.resumed = 0
        if not jobs:
            return []
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread: workers are forked later
        ctx = multiprocessing.get_context("fork")
        limit = self.hard_deadline()
        for key, job in enumerate(jobs):
            job["key"] = key
        rows: dict[int, dict] = {}
        # Expected values first, in kernels that run no student code (cached per chapter).
        sources = sorted({job["source"] for job in jobs})
        ready, failed = References(config=self.config).ensure(
            [Path(s) for s in sources], parallel=self.n_workers(len(sources))
        )
        times = self._calibrate({Path(s).stem: Path(s) for s in sources if Path(s).stem in ready})
        pending = []
        for key, job in enumerate(jobs):
            stem = Path(job["source"]).stem
            if stem in ready:
                job["expected"] = str(ready[stem])
                if stem in times:
                    job["timings"] = times[stem]
                done = journal.load(job) if journal is not None else None
                if done is not None:
                    rows[key] = {**done, "key": key}
                    self.resumed += 1
                else:
                    pending.append((key, job))
            else:
                message = f"the expected values of {stem} could not be computed: {failed[stem]}"
                log.error(message)
                rows[key] = self._failed_row(job, RowStatus.ERROR.value, message)
        workdir = tempfile.mkdtemp(prefix="autograder-")
        pool: list[_Worker] = []
        bar = tqdm(
            total=len(jobs),
            desc=desc,
            unit="nb",
            file=sys.stderr,
            disable=not self.progress,
            dynamic_ncols=True,
            initial=self.resumed,
        )

        def finished(job: dict, row: dict) -> None:
            rows[job["key"]] = row
            if journal is not None:
                journal.record(job, row)

        try:
            pool = [_Worker(ctx, self.config, workdir) for _ in range(self.n_workers(len(jobs)))]
            queue = pending[::-1]
            while queue or any(w.job is not None for w in pool):
                for i, w in enumerate(pool):
                    if w.job is None and queue:
                        _, job = queue.pop()
                        w.job, w.kernel_pid, w.started = job, None, time.monotonic()
                        try:
                            w.conn.send(job)
                        except (BrokenPipeError, OSError):
                            queue.append((job["key"], job))
                            w.job = None
                            w.kill()
                            pool[i] = _Worker(ctx, self.config, workdir)
                busy = [w for w in pool if w.job is not None]
                if not busy:
                    continue
                now = time.monotonic()
                timeout = max(0.0, min(w.started + limit - now for w in busy))
                for conn in wait([w.conn for w in busy], timeout=min(timeout, 5.0)):
                    w = next(w for w in busy if w.conn is conn)
                    try:
                        kind, key, payload = conn.recv()
                    except (EOFError, OSError):
                        rows[w.job["key"]] = self._failed_row(
                            w.job, "error", "the grading process crashed"
                        )
                        self._replace(pool, w, ctx, workdir)
                        bar.update(1)
                        continue
                    if kind == "kernel":
                        w.kernel_pid = payload
                    elif kind == "done":
                        finished(w.job, payload)
                        w.job = None
                        bar.update(1)
                        bar.set_postfix_str(
                            f"{payload['student_id']}/{payload['notebook']}: {payload['status']}"
                        )
                now = time.monotonic()
                for w in list(pool):
                    if w.job is not None and now - w.started > limit:
                        finished(
                            w.job,
                            self._failed_row(
                                w.job,
                                "timeout",
                                f"killed after the notebook deadline ({limit:g} s)",
                            ),
                        )
                        self._replace(pool, w, ctx, workdir)
                        bar.update(1)
        finally:
            bar.close()
            for w in pool:
                if w.job is not None:
                    w.kill()
                else:
                    try:
                        w.conn.send(None)
                    except OSError:
                        pass
            for w in pool:
                w.process.join(10)
                if w.process.is_alive():
                    w.kill()
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
        return [rows[k] for k in sorted(rows)]

    def _calibrate(self, sources: dict[str, Path]) -> dict[str, dict | None]:
        """The instructor timings that calibrate each chapter's limits, measured first where
        missing or stale (``autograder/calibrate.py``); {} when the limits are fixed."""
        from autograder import calibrate

        if not sources or not calibrate.calibrates(self.config):
            return {}
        return calibrate.ensure_timings(self.config, sources, self.n_workers(len(sources)))

    def _replace(self, pool, w, ctx, workdir) -> None:
        w.kill()
        pool[pool.index(w)] = _Worker(ctx, self.config, workdir)

    def _failed_row(self, job: dict, status: str, message: str) -> dict:
        points = job_points(job)  # read from the instructor notebook, no grader built
        row = {
            "student_id": job["student_id"],
            "notebook": job["notebook"],
            "score": 0.0,
            "max_score": sum(points.values()),
            "status": status,
            "message": one_line(message),
            "cells": complete_cells(points, [], "not_run"),
        }
        if job.get("feedback"):
            from autograder.feedback import FeedbackWriter

            try:
                FeedbackWriter(config=self.config).write_error(
                    job["feedback"], job["notebook"], row
                )
            except Exception:  # noqa: BLE001
                log.exception("could not write feedback for %s", job["path"])
        return row


def build_jobs(
    submissions: list[tuple[str, Path]],
    source_dir: Path,
    feedback: Path | None,
    known: dict[str, Path],
):
    """Turn submissions into grading jobs for the chapters ``known`` (stem -> instructor
    notebook); return ``(jobs, rows for unknown notebooks)``."""
    jobs, rows = [], []
    for student, path in submissions:
        stem = path.stem
        if stem not in known:
            rows.append(
                {
                    "student_id": student,
                    "notebook": stem,
                    "score": 0.0,
                    "max_score": 0.0,
                    "status": "unknown_notebook",
                    "message": one_line(
                        f"{path.name} matches no chapter in {source_dir.name}/ (known: {', '.join(known) or 'none'})"
                    ),
                    "cells": [],
                }
            )
            continue
        jobs.append(
            {
                "student_id": student,
                "notebook": stem,
                "path": str(path),
                "source": str(known[stem]),
                "feedback": str(Path(feedback) / student / f"{stem}.html") if feedback else None,
                "points": chapter_points(known[stem]),
            }
        )
    return jobs, rows


def grade_folder(
    submissions_dir: Path,
    out_csv: Path,
    config,
    feedback_dir: Path | None = None,
    source_dir: Path = NOTEBOOKS,
    shard: tuple[int, int] | None = None,
    roster: Path | None = None,
    db_url: str | None = None,
    course: Path | str | None = None,
    fresh: bool = False,
) -> list[dict]:
    """Grade every submission under ``submissions_dir``; return the rows.

    ``course`` is the nbgrader course folder to write (``autograder.course_layout``: the
    ``submitted/`` and ``autograded/`` notebooks, an ``nbgrader_config.py`` naming the
    gradebook); default: the folder of ``out_csv``; ``"none"``: none.

    Writes ``out_csv``, the per-cell results next to it (``.json``) and nbgrader's gradebook at
    ``db_url`` (default: SQLite ``gradebook.db`` next to the CSV; ``"none"``: no gradebook).
    Rows are journaled as they finish (``autograder.journal``, next to ``out_csv``): running the
    same command again after an interruption grades only what is missing; ``fresh`` starts over.
    ``shard=(K, N)`` grades only the students of shard ``K`` (``merge.shard_of``); ``roster``
    adds a ``missing`` row for each roster student (of this shard) who handed in nothing for a
    chapter that someone in the folder handed in.
    """
    from autograder.gradebook import (
        NO_DB,
        default_db_url,
        missing_rows,
        read_roster,
        write_gradebook,
    )
    from autograder.merge import shard_of
    from autograder.release import Release
    from autograder.results import write_results

    submissions, warnings = find_submissions(Path(submissions_dir))
    for w in warnings:
        log.warning(w)
    known = chapters(source_dir, Release(config=config).notebook_glob)
    # The chapters being graded: the same for every shard, since each shard sees the folder.
    graded = sorted({path.stem for _, path in submissions if path.stem in known})
    students = read_roster(roster) if roster else None
    if students is not None:
        for sid in sorted({sid for sid, _ in submissions} - set(students)):
            log.warning("%s handed in work but is not on the roster %s", sid, roster)
    if shard is not None:
        k, n = shard
        submissions = [(sid, path) for sid, path in submissions if shard_of(sid, n) == k]
        if students is not None:
            students = {sid: v for sid, v in students.items() if shard_of(sid, n) == k}
    jobs, rows = build_jobs(submissions, Path(source_dir), feedback_dir, known)
    from autograder.course_layout import NO_COURSE, write_config

    course_dir = None if course == NO_COURSE else Path(course or Path(out_csv).parent).resolve()
    for job in jobs:
        job["course"] = str(course_dir) if course_dir else None
    sandbox = sandbox_mode(config, bool(jobs))  # raises SandboxError: refuse before grading
    from autograder.journal import Journal, journal_dir

    runner = GradeRunner(config=config)
    rows += runner.run(jobs, journal=Journal(journal_dir(out_csv), config, fresh=fresh))
    if runner.resumed:
        log.warning(
            "resumed %d of %d notebooks from the journal %s (graded before, inputs unchanged)",
            runner.resumed,
            len(jobs),
            journal_dir(out_csv),
        )
    if students is not None:
        rows += missing_rows(students, rows, graded, known)
    for row in rows:
        row["sandbox"] = sandbox
    write_results(Path(out_csv), rows, shard)
    course_id = config.CourseDirectory.get("course_id") or "default_course"
    url = None if db_url == NO_DB else db_url or default_db_url(out_csv)
    if url:
        try:
            write_gradebook(url, rows, known, course_id, students)
        except Exception as exc:
            raise GradebookError(url, out_csv, exc) from exc
    if course_dir is not None and jobs:
        write_config(course_dir, url, course_id)
    return rows


def sandbox_mode(config, probe: bool = True) -> str:
    """``"bwrap"``, after checking that the sandbox starts (``SandboxError`` naming the fix if
    not), or ``"off"`` under ``--no-sandbox``: the value of the CSV's ``sandbox`` column."""
    from autograder.sandbox import Sandbox

    sandbox = Sandbox(config=config)
    if not sandbox.enabled:
        return "off"
    if probe:
        sandbox.probe()
    return "bwrap"


class GradebookError(Exception):
    """The CSV is written but the gradebook could not be."""

    def __init__(self, url: str, out_csv: Path, exc: Exception):
        from sqlalchemy.engine import make_url

        try:
            shown = make_url(url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001
            shown = "the --db URL"
        super().__init__(
            f"grades written to {out_csv}, but the gradebook at {shown} could not be written: "
            f"{type(exc).__name__}: {one_line(str(exc))}"
        )
