"""How long each cell and the whole notebook may run: calibrated from the instructor's timings
or fixed, and what happens when time runs out (the kernel is interrupted, grading goes on)."""

from __future__ import annotations

from pathlib import Path
from time import monotonic

from nbclient.util import ensure_async
from traitlets import Bool, Float, Unicode
from traitlets.config import LoggingConfigurable

from autograder.preprocessors.timings import Timings, cell_key


class TimeLimits(LoggingConfigurable):
    """Time limits of ``ExecuteGraded`` (a mixin; its options are set as ``c.ExecuteGraded.*``).

    Each cell may run ``cell_timeout`` seconds, or, when ``calibrate_cells`` and the
    instructor's timings (``timings_file``, written by ``python -m autograder check``) are
    there, ``timing_multiple`` times what the instructor's cell took, at least
    ``timing_floor``. The whole notebook may run ``notebook_timeout`` seconds. On a timeout the
    kernel is interrupted (the cell gets a ``CellTimeoutError``) and grading goes on; if the
    kernel is still busy ``interrupt_grace`` seconds later it is killed.
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

    def _start_clock(self, notebook: str, source_nb, whole: bool = True) -> None:
        """Load the chapter's timings and start the notebook's deadline.

        ``check`` records the instructor's run under the execution plan, so a cell the plan
        skipped has no time of its own: a ``whole`` run counts each such cell as long as the
        slowest recorded cell, so the deadline of a whole run is never shorter than that of
        the plan it replaces."""
        if not hasattr(self, "_timings"):
            self._timings = Timings()
        self._chapter_times = (
            self._timings.chapter(self.timings_file, notebook, source_nb)
            if (self.calibrate_cells or self.calibrate_notebook) and source_nb is not None
            else None
        )
        limit = self.notebook_timeout
        if self.calibrate_notebook and self._chapter_times:
            total = self._chapter_times["total"]
            if whole:
                recorded = self._chapter_times["cells"]
                slowest = max(recorded.values(), default=0.0)
                unknown = [
                    c
                    for c in source_nb.cells
                    if c.cell_type == "code" and c.source.strip() and cell_key(c) not in recorded
                ]
                total += slowest * len(unknown)
            calibrated = self.timing_multiple * total
            limit = min(limit, max(self.timing_notebook_floor, calibrated))
        self._notebook_limit = limit
        self._deadline = monotonic() + limit
        self._override_limit = None

    def _remaining(self) -> float:
        return self._deadline - monotonic()

    def _calibrated(self, key: str | None, default: float) -> float:
        seconds = self._chapter_times["cells"].get(key) if key else None
        if seconds is None:
            seconds = default
        return min(self.cell_timeout, max(self.timing_floor, self.timing_multiple * seconds))

    def _cell_limit(self, cell) -> float:
        """This cell's own limit: calibrated from the instructor's run where known."""
        if self._override_limit is not None:
            return self._override_limit
        if not (self.calibrate_cells and self._chapter_times):
            return self.cell_timeout
        # A cell the student added: as long as the slowest instructor cell.
        slowest = max(self._chapter_times["cells"].values(), default=0.0)
        return self._calibrated(cell_key(cell), slowest)

    def _limit_hidden(self, key: str) -> None:
        """The next run is a grade cell's probes: limited by the instructor's probe time."""
        if self.calibrate_cells and self._chapter_times:
            self._override_limit = self._calibrated(key, 0.0)
        else:
            self._override_limit = self.cell_timeout

    def _cell_time_limit(self, cell) -> int:
        return max(1, int(min(self._cell_limit(cell), self._remaining()) + 0.999))

    async def _async_handle_timeout(self, timeout, cell=None):
        # Overrides nbclient's private NotebookClient._async_handle_timeout (pinned in
        # tests/autograder/test_pins.py): interrupt, mark the cell, and let grading go on.
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
