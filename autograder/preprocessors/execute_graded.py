"""Run a submission in a fresh kernel, and after each grade cell run its probes there: the
kernel computes plain data, and nothing it says decides a grade (``ScoreCells`` judges)."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import subprocess
from pathlib import Path
from queue import Empty
from time import monotonic

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade, is_solution
from traitlets import Any, Dict, Float, Integer, Unicode

from autograder.preprocessors.output_caps import OutputCaps
from autograder.preprocessors.time_limits import TimeLimits
from autograder.preprocessors.timings import cell_key

#: What the probe collector returns at most (JSON characters); more is a failed probe run.
MAX_PROBE_CHARS = 16 * 1024 * 1024
#: What a cell the execution plan left out shows in the feedback and the graded notebook.
SKIPPED_NOTE = "(评分时没有运行这一格 / not run when grading: no graded cell depends on it)\n"
_COLLECT = "__import__('course_utils.grading', fromlist=['_take'])._take()"


def probe_code(statements: list[str], keys: list[list[str]]) -> str:
    """The code a grade cell's probes run as in the student's kernel: each statement of the
    student side on its own (one that raises records an error for the probes it holds and
    the rest go on), in a copy of the kernel's namespace so no test name lingers there."""
    pairs = repr(list(zip(keys, statements)))
    return (
        "def _autograder_probes(_ns, _pairs=" + pairs + "):\n"
        "    import course_utils.grading as _grading\n"
        "    for _keys, _source in _pairs:\n"
        "        try:\n"
        "            exec(compile(_source, '<hidden tests>', 'exec'), _ns)\n"
        "        except Exception as _exc:\n"
        "            _grading._failed(_keys, _exc)\n"
        "_autograder_probes(dict(globals()))\n"
        "del _autograder_probes\n"
    )


def parse_probes(reply: dict | None) -> dict | None:
    """The probed values from the collector's ``user_expressions`` reply, checked to be plain
    ``{"probed": {str: ...}, "errors": {str: str}}``; None when the reply is anything else."""
    if not reply:
        return None
    value = reply.get("user_expressions", {}).get("p", {})
    text = value.get("data", {}).get("text/plain") if value.get("status") == "ok" else None
    if not isinstance(text, str) or len(text) > MAX_PROBE_CHARS + 16:
        return None
    try:
        data = json.loads(ast.literal_eval(text))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("probed"), dict)
        and isinstance(data.get("errors"), dict)
        and all(isinstance(v, str) for v in data["errors"].values())
    ):
        return None
    return {"probed": data["probed"], "errors": data["errors"]}


class ExecuteGraded(TimeLimits, OutputCaps, Execute):
    """nbgrader's ``Execute`` preprocessor, made safe for a whole class.

    * **Environment.** The kernel gets ``kernel_env`` on top of the current environment
      (``NBGRADER_EXECUTION=autograde`` and ``COURSE_SIZE=small`` override inherited values),
      so tutorial training cells run at small size.
    * **Time** (``TimeLimits``) and **output** (``OutputCaps``) are capped per cell and per
      notebook; the outcome is recorded in ``resources["autograder"]["status"]``/``["reason"]``.
    * **Probes.** Right after a grade cell's visible checks ran without error, the student side
      of its hidden block (``resources["autograder"]["hidden_blocks"]``) runs in the kernel
      with its output discarded, and the probed values come back as plain data through a silent
      ``user_expressions`` request (``resources["autograder"]["probes"][grade_id]``). They are
      claims, not verdicts: ``ScoreCells`` compares them in this process with expected values
      the kernel never saw.
    """

    kernel_env = Dict(
        {
            "NBGRADER_EXECUTION": "autograde",
            "COURSE_SIZE": "small",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        },
        help="Environment variables set for the kernel, over the inherited environment.",
    ).tag(config=True)

    iopub_wait = Integer(
        60,
        help="Seconds to wait for a finished cell's last output (a huge print takes a while).",
    ).tag(config=True)

    kernel_name = Unicode("python3", help="The kernel every submission runs in.").tag(config=True)

    timings_out = Unicode(
        "",
        help="Folder where each run's per-cell times are written as "
        "<student_id>/<notebook>.json (set by `check` to record the instructor's timings).",
    ).tag(config=True)

    collect_timeout = Float(
        60.0, help="Seconds the kernel may take to hand back a grade cell's probed values."
    ).tag(config=True)

    on_kernel_start = Any(
        None,
        allow_none=True,
        help="Callable called with the kernel's process id once it has started "
        "(the grading pool uses it to kill a stuck kernel).",
    )

    def __init__(self, **kw):
        super().__init__(**kw)
        self._apply_settings()

    def _apply_settings(self) -> None:
        self.shutdown_kernel = "immediate"
        self.interrupt_on_timeout = True
        self.allow_errors = True
        self.raise_on_iopub_timeout = True
        self.iopub_timeout = self.iopub_wait
        self.timeout_func = self._cell_time_limit
        self.record_timing = False

    # --- the run -------------------------------------------------------------------------
    def preprocess(self, nb: NotebookNode, resources: dict, km=None):
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self._apply_settings()
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        state = resources.setdefault("autograder", {})
        state.setdefault("status", "ok")
        state.setdefault("reason", "")
        state["executed_grade_ids"] = set()
        state["probes"] = {}
        state["timings"] = {}
        notebook = resources.get("nbgrader", {}).get("notebook", "")
        self._start_clock(
            notebook,
            state.get("source_nb"),
            state.get("chapter_times", False),
            whole=state.get("plan_cells") is None,
        )
        self._reset_notebook_budget()
        run_sync(self._async_run)(state)
        state["executed_status"] = state["status"]
        self._write_timings(resources, state)
        return self.nb, self.resources

    def _write_timings(self, resources: dict, state: dict) -> None:
        if not self.timings_out:
            return
        meta = resources.get("nbgrader", {})
        path = Path(self.timings_out) / meta.get("student", "_") / f"{meta.get('notebook')}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"status": state["status"], "cells": state["timings"]}), encoding="utf-8"
        )

    def _stop(self, state: dict, status: str, reason: str) -> None:
        if state["status"] == "ok" or (state["status"] == "timeout" and status != "timeout"):
            state["status"], state["reason"] = status, reason

    async def _async_run(self, state: dict) -> None:
        env = dict(os.environ)
        env.update(self.kernel_env)
        cwd = self.resources.get("metadata", {}).get("path") or None
        # The kernel's own logs (TensorFlow's C++ start-up lines) would garble the progress bar.
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        async with self.async_setup_kernel(env=env, cwd=cwd, **quiet):
            if self.on_kernel_start is not None:
                pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
                if pid:
                    self.on_kernel_start(pid)
            info = await self.async_wait_for_reply(await ensure_async(self.kc.kernel_info()))
            if info and "language_info" in info.get("content", {}):
                self.nb.metadata["language_info"] = info["content"]["language_info"]
            seal = getattr(self.km, "seal", None)  # the sandbox's: no more files in its folder
            if seal is not None:
                seal()
            await self._run_cells(state)

    async def _run_cells(self, state: dict) -> None:
        """Run the notebook top to bottom (only the cells of ``state["plan_cells"]`` when it is
        set: ``PlanCells``), each grade cell followed by its probes."""
        blocks = state.get("hidden_blocks", {})
        planned = state.get("plan_cells")
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            if planned is not None and index not in planned:
                if cell.source.strip():
                    cell.outputs = [new_output("stream", name="stdout", text=SKIPPED_NOTE)]
                continue
            gid = (
                cell.metadata.nbgrader["grade_id"]
                if is_grade(cell) and not is_solution(cell)
                else None
            )
            if not cell.source.strip() and gid is None:
                continue
            if self._remaining() <= 0:
                self._stop(
                    state,
                    "timeout",
                    f"notebook deadline ({self._notebook_limit_text()}) reached before {self._where(index)}",
                )
                return
            if gid is not None:
                state["executed_grade_ids"].add(gid)
            self._cell_timed_out = False
            if cell.source.strip() and not await self._run_cell(cell, index, state):
                return
            errors = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            if gid is not None and gid in blocks and not errors and not self._cell_timed_out:
                if not await self._run_probes(gid, blocks[gid], index, state):
                    return

    async def _run_probes(self, gid: str, block, index: int, state: dict) -> bool:
        """Run a grade cell's probes, output discarded, and take the values back; return False
        when the kernel is gone."""
        cell = new_code_cell(
            probe_code(block.student, block.student_keys),
            metadata={"autograder_key": f"{gid}#hidden"},
        )
        original = self.nb.cells[index]
        self._limit_hidden(f"{gid}#hidden")
        self._discarding = True
        try:
            alive = await self._run_cell(
                cell, index, state, execution_count=None, store_history=False, hidden=True
            )
        finally:
            self.nb.cells[index] = original
            self._discarding = False
            self.code_cells_executed -= 1
        if not alive:
            return False
        result = await self._silent(state, "", {"p": _COLLECT}, "collecting probed values")
        if result is None:
            return False
        state["probes"][gid] = parse_probes(result[1]) or {"probed": {}, "errors": {}}
        return True

    async def _silent(self, state: dict, code: str, expressions: dict, what: str):
        """A silent execute_request (no history, no events, output ignored); ``(ok, content)``
        or None (status set) when the kernel died or did not answer in time."""
        msg_id = await ensure_async(
            self.kc.execute(code, silent=True, store_history=False, user_expressions=expressions)
        )
        limit = min(self.collect_timeout, max(self._remaining(), 1.0))
        started = monotonic()
        while True:
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=1))
            except Empty:
                try:
                    await self._async_check_alive()
                except DeadKernelError:
                    self._stop(state, "kernel_died", f"the kernel died while {what}")
                    return None
                if monotonic() - started > limit:
                    self._stop(state, "timeout", f"the kernel did not answer while {what}")
                    await self._kill_kernel()
                    return None
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                content = msg["content"]
                return content.get("status") == "ok", content

    # --- one cell --------------------------------------------------------------------------
    async def _run_cell(
        self,
        cell,
        index: int,
        state: dict,
        execution_count="auto",
        store_history=True,
        hidden=False,
    ) -> bool:
        """Run one cell; return False when the kernel is gone and the run must stop."""
        # Named before it runs: while probes run, cells[index] briefly holds their code.
        where = self._where(index) + (" (hidden tests)" if hidden else "")
        self._reset_cell_budget()
        self._cell_timed_out = False
        self.iopub_timeout = self.iopub_wait
        key = cell.metadata.get("autograder_key") or cell_key(cell)
        if execution_count == "auto":
            execution_count = self.code_cells_executed + 1
        limit, calibrated = self._cell_rule(cell)
        limit_text = self._limit_text(limit, calibrated)
        started = self._used()
        self._killed_by_watch = False
        watch = asyncio.ensure_future(self._watch(max(min(limit, self._remaining()), 0.0)))
        try:
            await self.async_execute_cell(
                cell, index, execution_count=execution_count, store_history=store_history
            )
        except DeadKernelError:
            if self._killed_by_watch:
                self._stop_for_time(state, where, limit_text, killed=True)
            else:
                self._stop(
                    state,
                    "kernel_died",
                    f"the kernel died in {where} (os._exit, crash or out of memory)",
                )
            return False
        except CellTimeoutError:
            self._stop_for_time(state, where, limit_text, killed=True)
            await self._kill_kernel()
            return False
        finally:
            watch.cancel()
            self._override = None
            if key:
                state["timings"][key] = round(self._used() - started, 3)
        if self._cell_timed_out:
            if self._remaining() <= 0:
                self._stop(
                    state,
                    "timeout",
                    f"notebook deadline ({self._notebook_limit_text()}) reached in {where}",
                )
                await self._kill_kernel()
                return False
            self._stop_for_time(state, where, limit_text)
        return True

    def _stop_for_time(self, state: dict, where: str, limit_text: str, killed=False) -> None:
        if killed:
            message = f"{where} ignored the interrupt after its time limit; the kernel was killed"
        else:
            message = f"{where} exceeded its time limit ({limit_text})"
        self._stop(state, "timeout", message)

    def _where(self, index: int) -> str:
        """Name a cell for instructors: 1-based position and its first line."""
        lines = [line for line in self.nb.cells[index].source.splitlines() if line.strip()]
        first = lines[0].strip() if lines else ""
        first = first if len(first) <= 40 else first[:39] + "…"
        return f"cell {index + 1} `{first}`"

    async def _kill_kernel(self) -> None:
        try:
            if self.km is not None and await ensure_async(self.km.is_alive()):
                await ensure_async(self.km.shutdown_kernel(now=True))
        except Exception:  # noqa: BLE001 - best effort; the pool kills leftovers by pid
            self.log.warning("Could not kill the kernel", exc_info=True)
