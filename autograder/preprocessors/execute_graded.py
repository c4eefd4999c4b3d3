"""Run a sanitized submission in a fresh kernel, with time limits and capped output."""

from __future__ import annotations

import json
import os
import subprocess
from time import monotonic

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade, is_solution
from traitlets import Any, Dict, Float, Integer, Unicode

TRUNCATED = "\n… 输出过长，已截断 (output truncated) …\n"


class ExecuteGraded(Execute):
    """nbgrader's ``Execute`` preprocessor, made safe for a whole class.

    * **Environment.** The kernel gets ``kernel_env`` on top of the current environment
      (``NBGRADER_EXECUTION=autograde`` and ``COURSE_SIZE=small`` override inherited values), so
      tutorial training cells run at small size.
    * **Time.** Each cell may run ``cell_timeout`` seconds, and the whole notebook
      ``notebook_timeout`` seconds. On a timeout the kernel is interrupted (the cell gets a
      ``CellTimeoutError``) and grading goes on; if the kernel is still busy
      ``interrupt_grace`` seconds later it is killed and the remaining cells never run. A dead
      kernel (``os._exit``, a crash) stops the run the same way. The outcome is recorded in
      ``resources["autograder"]["status"]`` and ``["reason"]``.
    * **Hidden tests.** After a grade cell's visible part passes, its hidden tests
      (``resources["autograder"]["hidden_tests"]``, set by ``SplitHiddenTests``) run as a
      separate execution whose output is discarded; only pass/fail is kept.
    * **Output.** Each cell keeps at most ``max_text_bytes`` of text and ``max_display_bytes`` of
      rich data as the messages arrive, so a 200 MB print never reaches the notebook.
    """

    cell_timeout = Float(
        600.0, help="Seconds a single cell may run before the kernel is interrupted."
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

    # --- time limits ---------------------------------------------------------------------
    def _remaining(self) -> float:
        return self._deadline - monotonic()

    def _cell_time_limit(self, cell) -> int:
        return max(1, int(min(self.cell_timeout, self._remaining()) + 0.999))

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
    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        msg_type = msg.get("msg_type")
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
            text_size = sum(
                len(v) for k, v in data.items() if k.startswith("text/") and isinstance(v, str)
            )
            rich_size = sum(
                len(v) if isinstance(v, str) else len(json.dumps(v))
                for k, v in data.items()
                if not k.startswith("text/")
            )
            if (
                text_size + self._text_used > self.max_text_bytes
                or rich_size + self._rich_used > self.max_display_bytes
            ):
                if self._text_truncated:
                    return None
                plain = data.get("text/plain", "")
                plain = plain if isinstance(plain, str) else ""
                content["data"] = {
                    "text/plain": plain[: max(self.max_text_bytes - self._text_used, 0)] + TRUNCATED
                }
                content["metadata"] = {}
                self._text_truncated = True
                text_size, rich_size = len(content["data"]["text/plain"]), 0
            self._text_used += text_size
            self._rich_used += rich_size
        return super().output(outs, msg, display_id, cell_index)

    def _reset_cell_budget(self) -> None:
        self._text_used = 0
        self._rich_used = 0
        self._text_truncated = False

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
        state["hidden_results"] = {}
        self._deadline = monotonic() + self.notebook_timeout
        self._reset_cell_budget()
        run_sync(self._async_run)(state)
        return self.nb, self.resources

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
                        f"notebook deadline ({self.notebook_timeout:g} s) reached before {self._where(index)}",
                    )
                    return
                if cell.source.strip() and not await self._run_cell(cell, index, state):
                    return
                if gid is None:
                    continue
                state["executed_grade_ids"].add(gid)
                failed = any(o.get("output_type") == "error" for o in cell.outputs)
                if gid in hidden_tests and not failed:
                    probe = new_code_cell(hidden_tests[gid])
                    try:
                        # Not stored in the kernel's history, so later cells cannot print it.
                        ok = await self._run_cell(
                            probe, index, state, execution_count=None, store_history=False
                        )
                    finally:
                        self.nb.cells[index] = cell
                        self.code_cells_executed -= 1  # keep the visible execution counts gapless
                    passed = ok and not any(o.get("output_type") == "error" for o in probe.outputs)
                    state["hidden_results"][gid] = passed
                    if not ok:
                        state["executed_grade_ids"].discard(gid)
                        return

    async def _run_cell(
        self, cell, index: int, state: dict, execution_count="auto", store_history=True
    ) -> bool:
        """Run one cell; return False when the kernel is gone and the run must stop."""
        # Named before it runs: while hidden tests run, cells[index] briefly holds their code,
        # which must never reach a message.
        where = self._where(index) + (" (hidden tests)" if not store_history else "")
        self._reset_cell_budget()
        self._cell_timed_out = False
        self.iopub_timeout = self.iopub_wait
        if execution_count == "auto":
            execution_count = self.code_cells_executed + 1
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
        if self._cell_timed_out:
            if self._remaining() <= 0:
                self._stop(
                    state,
                    "timeout",
                    f"notebook deadline ({self.notebook_timeout:g} s) reached in {where}",
                )
                await self._kill_kernel()
                return False
            self._stop(
                state,
                "timeout",
                f"{where} exceeded the cell time limit ({self.cell_timeout:g} s)",
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
