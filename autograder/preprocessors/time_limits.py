"""How long each cell and the whole notebook may run: calibrated from the instructor's timings
or fixed, and what happens when time runs out (the kernel is interrupted, grading goes on).

Limits count **charged seconds** of the kernel's process tree (``autograder/kernel_clock.py``):
the wall-clock time, less the time a busy machine held the kernel back from a core. So a
machine busy with other work does not turn an honest student into a ``timeout``, a kernel that
sleeps or blocks is charged like a wall clock (it costs no more than a loop), and no limit is
stricter than a wall-clock limit of the same number. A wall-clock
backstop (``wall_backstop`` x the limit, plus ``wall_slack``) bounds a kernel that hardly
gets a core on an overloaded machine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from time import monotonic

from nbclient.util import ensure_async
from traitlets import Bool, Enum, Float, Unicode
from traitlets.config import LoggingConfigurable

from autograder import kernel_clock
from autograder.kernel_clock import KernelClock
from autograder.preprocessors.timings import Timings, cell_key


class TimeLimits(LoggingConfigurable):
    """Time limits of ``ExecuteGraded`` (a mixin; its options are set as ``c.ExecuteGraded.*``).

    Each cell may be charged ``cell_timeout`` seconds (``clock``), or, when ``calibrate_cells``
    and the instructor's timings are known (``timings_file``, measured by ``grade`` itself or
    by ``python -m autograder check``), ``timing_multiple`` times what the instructor's cell
    took, at least ``timing_floor``. The whole notebook may run ``notebook_timeout`` seconds. On a timeout the
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
        help="Per-cell times of the instructor notebooks at grading size, measured by `grade` "
        "for a chapter without current timings (or by `check`); read to calibrate time limits.",
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

    clock = Enum(
        ["charged", "wall"],
        default_value="charged",
        help="What the limits count. charged: wall-clock seconds less the seconds the "
        "kernel's processes waited for a core that other work held (autograder/"
        "kernel_clock.py, Linux /proc), so a busy machine does not make an honest student "
        "time out; wall: wall-clock seconds (also used where /proc is missing).",
    ).tag(config=True)

    wall_backstop = Float(
        4.0,
        help="With the charged clock, a cell or notebook is also stopped after this many times "
        "its limit in wall-clock seconds, plus wall_slack: the bound for a machine so busy that "
        "the kernel hardly gets a core.",
    ).tag(config=True)

    wall_slack = Float(
        60.0, help="Wall-clock seconds added to every backstop (see wall_backstop)."
    ).tag(config=True)

    poll_interval = Float(
        0.5, help="Seconds between two readings of the charged clock while a cell runs."
    ).tag(config=True)

    @classmethod
    def wall_seconds(cls, config, limit: float) -> float:
        """The wall-clock seconds a run limited to ``limit`` seconds may take at most, with the
        options in ``config`` (``c.ExecuteGraded.*``): the grading pool's hard deadline."""
        section = config.ExecuteGraded if "ExecuteGraded" in config else {}

        def option(name):
            return section.get(name, getattr(cls, name).default_value)

        if option("clock") == "wall" or not kernel_clock.available():
            return limit
        return float(option("wall_backstop")) * limit + float(option("wall_slack"))

    def _charges(self) -> bool:
        return self.clock == "charged" and kernel_clock.available()

    def _kernel_pid(self) -> int | None:
        return getattr(getattr(getattr(self, "km", None), "provisioner", None), "pid", None)

    def _used(self) -> float:
        """The notebook's budget used so far: charged seconds, or wall seconds."""
        if self._kernel_clock is not None:
            return self._kernel_clock.charged()
        return monotonic() - self._wall_started

    def _backstop(self, limit: float) -> float:
        if self._kernel_clock is None:
            return limit
        return self.wall_backstop * limit + self.wall_slack

    def _limit_text(self, limit: float, calibrated: bool, notebook: bool = False) -> str:
        """A limit as the CSV states it. A calibrated limit depends on the machine that measured
        the instructor, so the CSV names the rule, never the number: the same class graded on
        two machines (shards) gives the same CSV."""
        if calibrated:
            what, floor = (
                ("total", self.timing_notebook_floor) if notebook else ("time", self.timing_floor)
            )
            return f"calibrated: {self.timing_multiple:g}x the instructor's {what}, at least {floor:g} s"
        return f"{limit:g} s"

    def _start_clock(self, notebook: str, source_nb, chapter_times=False, whole=True) -> None:
        """Take the chapter's timings (``chapter_times`` as the grading parent resolved them,
        else read from ``timings_file``) and start the notebook's deadline.

        The instructor's run is measured under the execution plan, so a cell the plan skipped
        has no time of its own: a ``whole`` run counts each such cell as long as the slowest
        recorded cell, so the deadline of a whole run is never shorter than that of the plan
        it replaces."""
        if not hasattr(self, "_timings"):
            self._timings = Timings()
        if not (self.calibrate_cells or self.calibrate_notebook) or source_nb is None:
            chapter_times = None
        elif chapter_times is False:
            chapter_times = self._timings.chapter(self.timings_file, notebook, source_nb)
        self._chapter_times = chapter_times
        limit = self.notebook_timeout
        self._notebook_calibrated = False
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
            calibrated = max(self.timing_notebook_floor, self.timing_multiple * total)
            # Named by its rule even where notebook_timeout caps it: whether the cap wins
            # depends on the machine that measured the instructor.
            self._notebook_calibrated = True
            limit = min(limit, calibrated)
        self._notebook_limit = limit
        self._kernel_clock = KernelClock(self._kernel_pid) if self._charges() else None
        self._wall_started = monotonic()
        self._wall_deadline = self._wall_started + self._backstop(limit)
        self._override = None

    def _remaining(self) -> float:
        """What is left of the notebook's budget; 0 once it or its wall-clock backstop ran out."""
        if self._wall_deadline - monotonic() <= 0:
            return 0.0
        return self._notebook_limit - self._used()

    def _notebook_limit_text(self) -> str:
        return self._limit_text(self._notebook_limit, self._notebook_calibrated, notebook=True)

    def _calibrated(self, key: str | None, default: float) -> float:
        seconds = self._chapter_times["cells"].get(key) if key else None
        if seconds is None:
            seconds = default
        return min(self.cell_timeout, max(self.timing_floor, self.timing_multiple * seconds))

    def _cell_limit(self, cell) -> float:
        """This cell's own limit: calibrated from the instructor's run where known."""
        return self._cell_rule(cell)[0]

    def _cell_rule(self, cell) -> tuple[float, bool]:
        """``(limit, calibrated)`` of this cell."""
        if self._override is not None:
            return self._override
        if not (self.calibrate_cells and self._chapter_times):
            return self.cell_timeout, False
        # A cell the student added: as long as the slowest instructor cell.
        slowest = max(self._chapter_times["cells"].values(), default=0.0)
        return self._calibrated(cell_key(cell), slowest), True

    def _limit_hidden(self, key: str) -> None:
        """The next run is a grade cell's probes: limited by the instructor's probe time."""
        if self.calibrate_cells and self._chapter_times:
            self._override = (self._calibrated(key, 0.0), True)
        else:
            self._override = (self.cell_timeout, False)

    def _cell_time_limit(self, cell) -> int:
        """nbclient's (wall-clock) timeout for a cell: the limit itself, or its backstop when
        the limit counts charged seconds (``_watch`` enforces those)."""
        limit = min(self._cell_limit(cell), max(self._remaining(), 0.0))
        if self._kernel_clock is not None:
            limit = min(self._backstop(limit), self._wall_deadline - monotonic())
        return max(1, int(limit + 0.999))

    async def _watch(self, limit: float) -> None:
        """While a cell runs: once the kernel has been charged ``limit`` more seconds, interrupt
        it; if it is still running ``interrupt_grace`` seconds later, kill it."""
        if self._kernel_clock is None:
            return
        start = self._used()
        while self._used() - start < limit:
            await asyncio.sleep(self.poll_interval)
        self._cell_timed_out = True
        self.iopub_timeout = max(1, int(round(self.interrupt_grace)))
        self.log.warning("Cell used its %g s; interrupting the kernel", limit)
        await ensure_async(self.km.interrupt_kernel())
        await asyncio.sleep(self.interrupt_grace)
        self._killed_by_watch = True
        self.log.warning("The kernel ignored the interrupt; killing it")
        await self._kill_kernel()

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
