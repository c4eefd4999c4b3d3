"""Run a sanitized submission in a fresh kernel, with time limits, capped output and verdicts
that student code can neither forge nor use to read the hidden tests."""

from __future__ import annotations

import ast
import builtins
import json
import os
import secrets
import subprocess
from functools import lru_cache
from pathlib import Path
from queue import Empty
from time import monotonic

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade, is_locked, is_solution
from traitlets import Any, Bool, Dict, Float, Integer, Unicode

from autograder.preprocessors.timings import Timings, cell_key
from autograder.scan import setup_sources

TRUNCATED = "\n… 输出过长，已截断 (output truncated) …\n"
GUARD_SOURCE = Path(__file__).with_name("kernel_guard.py")
#: Printed by the line appended to every grade cell: ``<DONE_PREFIX><random token>``.
DONE_PREFIX = "\x1eautograder-done:"
_BUILTIN_NAMES = frozenset(dir(builtins))


class ExecuteGraded(Execute):
    """nbgrader's ``Execute`` preprocessor, made safe for a whole class.

    * **Environment.** The kernel gets ``kernel_env`` on top of the current environment
      (``NBGRADER_EXECUTION=autograde`` and ``COURSE_SIZE=small`` override inherited values), so
      tutorial training cells run at small size.
    * **Time.** Each cell may run ``cell_timeout`` seconds, or, when ``calibrate_cells`` and the
      instructor's timings (``timings_file``, written by ``python -m autograder check``) are
      there, ``timing_multiple`` times what the instructor's cell took, at least
      ``timing_floor``. The whole notebook may run ``notebook_timeout`` seconds. On a timeout the
      kernel is interrupted (the cell gets a ``CellTimeoutError``) and grading goes on; if the
      kernel is still busy ``interrupt_grace`` seconds later it is killed and the remaining cells
      never run. A dead kernel stops the run the same way. The outcome is recorded in
      ``resources["autograder"]["status"]`` and ``["reason"]``.
    * **Verdicts.** Before any cell runs, a guard is installed in the kernel
      (``kernel_guard.py``): it imports what the Setup cell imports and snapshots IPython's
      hooks, ``sys`` hooks, ``builtins`` and those modules. Before every grade cell (and every
      read-only cell) the guard undoes hooks and monkeypatches and re-binds the names grade
      cells use; it is reached with an empty, silent ``execute_request`` whose
      ``user_expressions`` no student hook sees. A grade cell's visible part passes only if the
      kernel's execute reply says ``ok``, the random token appended after its last statement
      was printed (it is stripped from the output) and no hook was re-installed while it ran.
    * **Hidden tests** (``resources["autograder"]["hidden_tests"]``, set by
      ``SplitHiddenTests``) never run while a student cell can still run or be shown: after the
      last cell of the notebook, each passing grade cell's hidden tests run in the namespace
      saved right after that grade cell, hooks reset first, their outputs and display updates
      discarded, and the kernel is shut down right after. Only pass/fail is kept.
    * **Output.** Each cell keeps at most ``max_text_bytes`` of text and ``max_display_bytes`` of
      rich data as the messages arrive (``update_display_data`` included), so a 200 MB print
      never reaches the notebook.
    """

    cell_timeout = Float(
        600.0,
        help="Seconds a single cell may run before the kernel is interrupted (the upper bound "
        "of a calibrated limit; used as is where no instructor timing is known).",
    ).tag(config=True)

    notebook_timeout = Float(
        1800.0,
        help="Seconds the whole notebook may run (kernel start included); cells left when it "
        "expires never run and their grade cells score 0.",
    ).tag(config=True)

    interrupt_grace = Float(
        5.0,
        help="Seconds to wait for a kernel to go idle after an interrupt before it is killed.",
    ).tag(config=True)

    max_text_bytes = Integer(
        64 * 1024,
        help="Characters of text output (streams, text results, tracebacks) kept per cell.",
    ).tag(config=True)

    max_display_bytes = Integer(
        2 * 1024 * 1024,
        help="Bytes of rich output (images, HTML) kept per cell.",
    ).tag(config=True)

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

    timings_file = Unicode(
        str(Path(__file__).resolve().parent.parent / "timings.json"),
        help="Per-cell times of the instructor notebooks at grading size, written by "
        "`python -m autograder check`; read to calibrate time limits.",
    ).tag(config=True)

    calibrate_cells = Bool(
        True,
        help="Limit each cell to timing_multiple x the instructor's time for it (at least "
        "timing_floor, at most cell_timeout). --cell-timeout turns this off.",
    ).tag(config=True)

    calibrate_notebook = Bool(
        True,
        help="Limit the whole notebook to timing_multiple x the instructor's total (at least "
        "timing_notebook_floor, at most notebook_timeout). --timeout turns this off.",
    ).tag(config=True)

    timing_multiple = Float(
        10.0, help="How many times the instructor's time a student cell may take."
    ).tag(config=True)

    timing_floor = Float(
        20.0, help="Seconds any cell may take, however fast the instructor's cell was."
    ).tag(config=True)

    timing_notebook_floor = Float(
        120.0, help="Seconds any notebook may take when its limit is calibrated."
    ).tag(config=True)

    timings_out = Unicode(
        "",
        help="Folder where each run's per-cell times are written as "
        "<student_id>/<notebook>.json (set by `check` to record the instructor's timings).",
    ).tag(config=True)

    guard_timeout = Float(
        300.0,
        help="Seconds the kernel may take to install the guard (it imports what the Setup "
        "cell imports, TensorFlow included) or to run one reset.",
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
        self._timings = Timings()

    def _apply_settings(self) -> None:
        self.shutdown_kernel = "immediate"
        self.interrupt_on_timeout = True
        self.allow_errors = True
        self.raise_on_iopub_timeout = True
        self.iopub_timeout = self.iopub_wait
        self.timeout_func = self._cell_time_limit
        self.record_timing = False

    # --- time limits ---------------------------------------------------------------------
    def _remaining(self) -> float:
        return self._deadline - monotonic()

    def _cell_limit(self, cell) -> float:
        """This cell's own limit: calibrated from the instructor's run where known."""
        if self._override_limit is not None:
            return self._override_limit
        if not (self.calibrate_cells and self._chapter_times):
            return self.cell_timeout
        key = cell_key(cell)
        seconds = self._chapter_times["cells"].get(key) if key else None
        if seconds is None:  # a cell the student added: as long as the slowest instructor cell
            seconds = max(self._chapter_times["cells"].values(), default=0.0)
        return min(self.cell_timeout, max(self.timing_floor, self.timing_multiple * seconds))

    def _cell_time_limit(self, cell) -> int:
        return max(1, int(min(self._cell_limit(cell), self._remaining()) + 0.999))

    async def _async_handle_timeout(self, timeout, cell=None):
        self._cell_timed_out = True
        # Only a short wait for the kernel to go idle: past it, the kernel ignored the interrupt.
        self.iopub_timeout = max(1, int(round(self.interrupt_grace)))
        self.log.warning("Cell timed out after %s s; interrupting the kernel", timeout)
        await ensure_async(self.km.interrupt_kernel())
        message = f"cell exceeded its time limit ({timeout} s) and was interrupted"
        return {
            "content": {
                "status": "error",
                "ename": "CellTimeoutError",
                "evalue": message,
                "traceback": [f"CellTimeoutError: {message}"],
            }
        }

    # --- output cap ----------------------------------------------------------------------
    def _too_big(self, data: dict) -> tuple[int, int]:
        text_size = sum(
            len(v) for k, v in data.items() if k.startswith("text/") and isinstance(v, str)
        )
        rich_size = sum(
            len(v) if isinstance(v, str) else len(json.dumps(v))
            for k, v in data.items()
            if not k.startswith("text/")
        )
        return text_size, rich_size

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        msg_type = msg.get("msg_type")
        if msg_type == "stream" and self._done_line and content.get("name") == "stdout":
            # The token arrives in one piece (one write), but look across messages anyway;
            # then cut it out of the text.
            text = content.get("text", "")
            token = self._done_line.rstrip("\n")
            seen = self._stdout_tail + text
            self._done_seen = self._done_seen or token in seen
            self._stdout_tail = seen[-2 * len(token) :]
            content["text"] = text.replace(self._done_line, "").replace(token, "")
            if not content["text"]:
                return None
        if self._discarding:
            # Hidden tests and guard calls: nothing is kept, no display id is recorded.
            return None
        if msg_type == "stream":
            text = content.get("text", "")
            room = self.max_text_bytes - self._text_used
            if len(text) > room:
                if self._text_truncated:
                    return None
                content["text"] = text[: max(room, 0)] + TRUNCATED
                self._text_truncated = True
            self._text_used += len(content["text"])
        elif msg_type == "error":
            room = max(self.max_text_bytes - self._text_used, 4096)
            content["evalue"] = _clip(str(content.get("evalue", "")), room // 2)
            tb, used = [], 0
            for line in content.get("traceback", []):
                line = _clip(str(line), room // 2)
                if used + len(line) > room:
                    tb.append(TRUNCATED)
                    break
                tb.append(line)
                used += len(line)
            content["traceback"] = tb
            self._text_used += used
        elif msg_type in ("execute_result", "display_data"):
            data = content.get("data", {})
            text_size, rich_size = self._too_big(data)
            if (
                text_size + self._text_used > self.max_text_bytes
                or rich_size + self._rich_used > self.max_display_bytes
            ):
                if self._text_truncated:
                    return None
                self._truncate_display(content, self.max_text_bytes - self._text_used)
                self._text_truncated = True
                text_size, rich_size = len(content["data"]["text/plain"]), 0
            self._text_used += text_size
            self._rich_used += rich_size
        return super().output(outs, msg, display_id, cell_index)

    @staticmethod
    def _truncate_display(content: dict, room: int) -> None:
        plain = content.get("data", {}).get("text/plain", "")
        plain = plain if isinstance(plain, str) else ""
        content["data"] = {"text/plain": plain[: max(room, 0)] + TRUNCATED}
        content["metadata"] = {}

    def _update_display_id(self, display_id, msg):
        """``update_display(...)`` (and a display reusing an id) rewrite earlier outputs: the
        new data gets the same caps as any output, and none is taken while hidden tests run."""
        if self._discarding:
            return
        content = msg.get("content", {})
        text_size, rich_size = self._too_big(content.get("data", {}))
        if text_size > self.max_text_bytes or rich_size > self.max_display_bytes:
            msg = {**msg, "content": dict(content)}
            self._truncate_display(msg["content"], self.max_text_bytes)
        return super()._update_display_id(display_id, msg)

    def _reset_cell_budget(self) -> None:
        self._text_used = 0
        self._rich_used = 0
        self._text_truncated = False

    async def _check_raise_for_error(self, cell, cell_index, exec_reply):
        self._last_reply = exec_reply
        return await super()._check_raise_for_error(cell, cell_index, exec_reply)

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
        state["verdicts"] = {}
        state["hidden_results"] = {}
        state["timings"] = {}
        notebook = resources.get("nbgrader", {}).get("notebook", "")
        source_nb = state.get("source_nb")
        self._chapter_times = (
            self._timings.chapter(self.timings_file, notebook, source_nb)
            if (self.calibrate_cells or self.calibrate_notebook) and source_nb is not None
            else None
        )
        limit = self.notebook_timeout
        if self.calibrate_notebook and self._chapter_times:
            calibrated = self.timing_multiple * self._chapter_times["total"]
            limit = min(limit, max(self.timing_notebook_floor, calibrated))
        self._notebook_limit = limit
        self._deadline = monotonic() + limit
        self._override_limit = None
        self._discarding = False
        self._done_line = ""
        self._stdout_tail = ""
        self._done_seen = False
        self._guard_class = f"_AutograderGuard_{secrets.token_hex(12)}"
        self._reset_cell_budget()
        run_sync(self._async_run)(state)
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
            if not await self._install_guard(state):
                return
            if await self._run_cells(state):
                await self._run_hidden_tests(state)

    async def _run_cells(self, state: dict) -> bool:
        """Run the notebook top to bottom; return False when the kernel is gone."""
        hidden_tests = state.get("hidden_tests", {})
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
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
                    f"notebook deadline ({self._notebook_limit:g} s) reached before {self._where(index)}",
                )
                return False
            trusted = gid is not None or (is_locked(cell) and not is_solution(cell))
            if trusted:
                # print too: the completion token is printed with it
                names = _builtins_used(cell.source + "\nprint()")
                reset = await self._guard(state, f"reset({names!r})")
                if reset is None:
                    return False
            if gid is None:
                if not await self._run_cell(cell, index, state):
                    return False
                continue
            state["executed_grade_ids"].add(gid)
            if not reset[0]:
                state["verdicts"][gid] = False
                state.setdefault("runtime_flags", []).append(
                    f"{self._where(index)}: the reset before this grade cell failed ({reset[1]})"
                )
                cell.outputs = []
                continue
            passed = await self._run_grade_cell(cell, index, state)
            if passed is None:
                return False
            after = await self._guard(state, "after()")
            if after is None:
                return False
            if not after[0]:
                passed = False
                state.setdefault("runtime_flags", []).append(
                    f"{self._where(index)}: hooks changed while the grade cell ran ({after[1]})"
                )
            state["verdicts"][gid] = passed
            if passed and gid in hidden_tests:
                saved = await self._guard(state, f"save({gid!r})")
                if saved is None:
                    return False
        return True

    async def _run_grade_cell(self, cell, index: int, state: dict) -> bool | None:
        """Run a grade cell's visible part with a completion token; None if the kernel is gone."""
        source = cell.source
        if not source.strip():  # every line of it is a hidden test
            return True
        token = secrets.token_hex(16)
        self._done_line = f"{DONE_PREFIX}{token}\n"
        self._done_seen = False
        self._stdout_tail = ""
        self._last_reply = None
        cell.source = f"{source}\nprint({DONE_PREFIX + token!r})"
        try:
            alive = await self._run_cell(cell, index, state)
        finally:
            cell.source = source
            self._done_line = ""
        if not alive:
            return None
        reply_ok = bool(self._last_reply) and self._last_reply["content"].get("status") == "ok"
        errors = any(o.get("output_type") == "error" for o in cell.outputs)
        return reply_ok and self._done_seen and not errors and not self._cell_timed_out

    async def _run_hidden_tests(self, state: dict) -> None:
        """Every passing grade cell's hidden tests, after the last cell, outputs discarded."""
        hidden_tests = state.get("hidden_tests", {})
        order = [
            (i, c.metadata.nbgrader["grade_id"])
            for i, c in enumerate(self.nb.cells)
            if c.cell_type == "code" and is_grade(c) and not is_solution(c)
        ]
        for index, gid in order:
            if gid not in hidden_tests or not state["verdicts"].get(gid):
                continue
            if self._remaining() <= 0:
                self._stop(
                    state,
                    "timeout",
                    f"notebook deadline ({self._notebook_limit:g} s) reached before the hidden "
                    f"tests of {self._where(index)}",
                )
                return
            code = hidden_tests[gid]
            names = _builtins_used(code + "\nprint()")
            entered = await self._guard(state, f"enter({gid!r}, {names!r})")
            if entered is None:
                return
            if not entered[0]:
                state["hidden_results"][gid] = False
                continue
            probe = new_code_cell(code, metadata={"autograder_key": f"{gid}#hidden"})
            token = secrets.token_hex(16)
            probe.source = f"{code}\nprint({DONE_PREFIX + token!r})"
            original = self.nb.cells[index]
            self._last_reply = None
            self._done_line, self._done_seen = f"{DONE_PREFIX}{token}\n", False
            self._stdout_tail = ""
            self._discarding = True
            try:
                alive = await self._run_cell(
                    probe, index, state, execution_count=None, store_history=False, hidden=True
                )
            finally:
                self.nb.cells[index] = original
                self._discarding = False
                self._done_line = ""
                self.code_cells_executed -= 1
            reply_ok = bool(self._last_reply) and self._last_reply["content"].get("status") == "ok"
            passed = alive and reply_ok and self._done_seen and not self._cell_timed_out
            if alive and passed:
                after = await self._guard(state, "after()")
                passed = bool(after and after[0])
            state["hidden_results"][gid] = passed
            if not alive:
                return

    # --- the guard -------------------------------------------------------------------------
    async def _install_guard(self, state: dict) -> bool:
        source_nb = state.get("source_nb")
        setup = setup_imports(json.dumps(setup_sources(source_nb))) if source_nb else ()
        notebook = self.resources.get("nbgrader", {}).get("notebook", "")
        chapter = notebook[:2]
        checks = f"course_utils.checks.ch{chapter}" if chapter.isdigit() else ""
        token = self._guard_class.split("_AutograderGuard_")[1]
        code = (
            "def _autograder_prelude():\n"
            "    import builtins\n"
            "    scope = {'__builtins__': dict(vars(builtins)), '__name__': '_autograder_guard'}\n"
            f"    exec(compile({_guard_source()!r}, '<autograder-guard>', 'exec'), scope)\n"
            f"    scope['install']({token!r}, {list(setup)!r}, {checks!r}, get_ipython())\n"
            "_autograder_prelude()\n"
            "del _autograder_prelude\n"
        )
        result = await self._silent(state, code, {}, "installing the grading guard")
        if result is None:
            return False
        if not result[0]:
            self._stop(state, "error", f"the grading guard could not be installed: {result[1]}")
            return False
        return True

    async def _guard(self, state: dict, call: str):
        """Call the kernel guard; ``(ok, error)``, or None when the kernel is gone."""
        nonce = secrets.token_hex(8)
        expression = (
            f"[c for c in ().__class__.__base__.__subclasses__() "
            f"if c.__name__ == {self._guard_class!r}][0].{call} or {nonce!r}"
        )
        result = await self._silent(state, "", {"g": expression}, "a grading reset")
        if result is None:
            return None
        ok, reply = result
        value = reply.get("user_expressions", {}).get("g", {}) if ok else {}
        if value.get("status") == "ok" and nonce in str(value.get("data", {}).get("text/plain")):
            return True, ""
        return False, f"{value.get('ename', 'error')}: {value.get('evalue', '')}"[:200]

    async def _silent(self, state: dict, code: str, expressions: dict, what: str):
        """A silent execute_request (no history, no events, output ignored); ``(ok, content)``
        or None (status set) when the kernel died or did not answer in time."""
        msg_id = await ensure_async(
            self.kc.execute(code, silent=True, store_history=False, user_expressions=expressions)
        )
        limit = min(self.guard_timeout, max(self._remaining(), 1.0))
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
        # Named before it runs: while hidden tests run, cells[index] briefly holds their code,
        # which must never reach a message.
        where = self._where(index) + (" (hidden tests)" if hidden else "")
        self._reset_cell_budget()
        self._cell_timed_out = False
        self.iopub_timeout = self.iopub_wait
        key = cell.metadata.get("autograder_key") or cell_key(cell)
        if hidden and self.calibrate_cells and self._chapter_times:
            seconds = self._chapter_times["cells"].get(key, 0.0)
            self._override_limit = min(
                self.cell_timeout, max(self.timing_floor, self.timing_multiple * seconds)
            )
        elif hidden:
            self._override_limit = self.cell_timeout
        if execution_count == "auto":
            execution_count = self.code_cells_executed + 1
        limit = self._cell_limit(cell)
        started = monotonic()
        try:
            await self.async_execute_cell(
                cell, index, execution_count=execution_count, store_history=store_history
            )
        except DeadKernelError:
            self._stop(
                state,
                "kernel_died",
                f"the kernel died in {where} (os._exit, crash or out of memory)",
            )
            return False
        except CellTimeoutError:
            self._stop(
                state,
                "timeout",
                f"{where} ignored the interrupt after its time limit; the kernel was killed",
            )
            await self._kill_kernel()
            return False
        finally:
            self._override_limit = None
            if key:
                state["timings"][key] = round(monotonic() - started, 3)
        if self._cell_timed_out:
            if self._remaining() <= 0:
                self._stop(
                    state,
                    "timeout",
                    f"notebook deadline ({self._notebook_limit:g} s) reached in {where}",
                )
                await self._kill_kernel()
                return False
            self._stop(
                state,
                "timeout",
                f"{where} exceeded its time limit ({limit:g} s)",
            )
        return True

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


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + TRUNCATED


@lru_cache(maxsize=1)
def _guard_source() -> str:
    return GUARD_SOURCE.read_text(encoding="utf-8")


def _builtins_used(source: str) -> tuple[str, ...]:
    """The builtins a cell's code loads by name (a student variable may shadow them)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ()
    names = {
        n.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in _BUILTIN_NAMES
    }
    return tuple(sorted(names))


@lru_cache(maxsize=64)
def setup_imports(sources_json: str) -> tuple[str, ...]:
    """The top-level import statements of the Setup cells, one source line each."""
    from IPython.core.inputtransformer2 import TransformerManager

    statements = []
    for source in json.loads(sources_json):
        try:
            tree = ast.parse(TransformerManager().transform_cell(source))
        except SyntaxError:
            continue
        statements += [
            ast.unparse(node)
            for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom))
        ]
    return tuple(statements)
