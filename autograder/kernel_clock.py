"""The clock that time limits count: a kernel's *charged* seconds, read from ``/proc`` (Linux).

A kernel is charged the wall-clock time it takes, **less the time a busy machine held it back**:
the time its threads were ready to run and waited for a core that other work held. So on a
machine busy with other jobs an honest cell is charged about what it costs on a quiet machine,
a cell that sleeps or blocks is charged like a wall clock (a limit stops it like a loop), and no
cell is ever charged more than the wall clock (limits are never stricter than wall-clock limits
of the same number, whatever the kernel's parallelism).

Per interval between two readings, with ``cpu`` the CPU seconds the kernel's process tree used
(``utime + stime`` of every process, plus ``cutime + cstime`` of the children it reaped) and
``wait`` the seconds its threads spent runnable on a run queue (``/proc/<pid>/task/<tid>/
schedstat``, second field)::

    charged += max(min(cpu, elapsed), elapsed - wait)        (at most elapsed)

One busy thread on a loaded machine: ``elapsed = cpu + wait``, so it is charged ``cpu``. Busy
threads on a quiet machine: ``elapsed`` (not the sum of their CPU seconds, which counts each
core). A sleeping kernel: ``cpu = wait = 0``, so ``elapsed``. Where ``schedstat`` is missing (a
kernel built without ``CONFIG_SCHED_INFO``) only ``min(cpu, elapsed)`` is charged, and a
sleeping kernel is stopped by the wall-clock backstop of ``TimeLimits`` instead.

Pure CPU seconds were tried first: they sum over threads, so TensorFlow training on every core
was charged several seconds per second and a fixed limit shrank with the machine's core count
(chapter 09 timed out at ``--cell-timeout 30`` on two cores).
"""

from __future__ import annotations

import os
from pathlib import Path
from time import monotonic

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


def available() -> bool:
    """Whether this machine exposes per-process CPU times (Linux ``/proc``)."""
    return (PROC / "self" / "stat").exists()


def waits_available() -> bool:
    """Whether it also exposes per-thread run-queue waits (``schedstat``)."""
    return (PROC / "self" / "schedstat").exists()


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (field 3 onwards)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return text[text.rindex(")") + 2 :].split()


def _children_files(pid: int) -> list[int] | None:
    """Children from ``task/*/children`` (None where the kernel lacks ``CONFIG_PROC_CHILDREN``)."""
    found: list[int] = []
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            continue
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it (reparented orphans of a PID namespace included,
    since they are reparented to the namespace's init, which is below ``pid``)."""
    found = _children_files(pid)
    if found is not None:
        pids, stack = [], [pid]
        while stack:
            p = stack.pop()
            if p in pids:
                continue
            pids.append(p)
            stack += _children_files(p) or []
        return pids
    parents: dict[int, list[int]] = {}
    for entry in os.listdir(PROC):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields:
                parents.setdefault(int(fields[1]), []).append(int(entry))
    pids, stack = [], [pid]
    while stack:
        p = stack.pop()
        if p not in pids:
            pids.append(p)
            stack += parents.get(p, [])
    return pids


def sample(pid: int | None) -> tuple[float, float | None]:
    """``(cpu, wait)`` seconds of ``pid``'s process tree so far; ``wait`` is None where the
    machine does not expose it. ``(0.0, 0.0)`` for no process."""
    if not pid:
        return 0.0, 0.0
    ticks, wait_ns, waits = 0, 0, waits_available()
    for p in tree(pid):
        fields = _stat(p)
        if fields is None:
            continue
        ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))  # fields 14-17 of proc(5)
        if waits:
            try:
                tasks = list((PROC / str(p) / "task").iterdir())
            except OSError:
                tasks = []
            for task in tasks:
                try:
                    wait_ns += int((task / "schedstat").read_text().split()[1])
                except (OSError, ValueError, IndexError):
                    continue
    return ticks / TICKS, (wait_ns / 1e9 if waits else None)


class KernelClock:
    """Charged seconds of one kernel's process tree (see the module's docstring).

    ``pid`` is a callable returning the process id to watch (None until the kernel started):
    the clock charges wall-clock time until there is a process, then per reading as above.
    """

    def __init__(self, pid):
        self._pid = pid
        self._charged = 0.0
        self._last = (monotonic(), 0.0, 0.0)

    def charged(self) -> float:
        """Charged seconds since the clock was made (reads ``/proc`` once)."""
        now = monotonic()
        cpu, wait = sample(self._pid())
        last_now, last_cpu, last_wait = self._last
        elapsed = now - last_now
        d_cpu = max(0.0, cpu - last_cpu)  # a reaped child moves into cutime: never negative
        busy = min(d_cpu, elapsed)
        if wait is None:
            self._charged += busy
            wait = 0.0
        else:
            # A thread that exited takes its wait along (d_wait < 0): then charge elapsed.
            self._charged += max(busy, elapsed - max(0.0, wait - last_wait), 0.0)
        self._last = (now, max(cpu, last_cpu), wait)
        return self._charged
