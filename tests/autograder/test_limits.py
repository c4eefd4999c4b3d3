"""Time limits on a busy machine, and calibration without a manual step.

The clock (``autograder/kernel_clock.py``) is tested on plain processes. Then one pair of
``grade`` runs of a tiny class of the fixture chapter (an honest student and one whose answer
loops forever) with a fresh timings file: the first on the machine as it is, where ``grade``
measures the instructor copy by itself; the second with a CPU hog spinning on every core, which
reuses that measurement and must give the same CSV byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import cases
import nbformat
import pytest
from conftest import FIXTURE_SOURCE, read_csv, run_autograder
from traitlets.config import Config

from autograder import calibrate, kernel_clock
from autograder.kernel_clock import KernelClock
from autograder.paths import CONFIG_FILE
from autograder.preprocessors import timings as timing_file
from autograder.version import code_version

pytestmark = pytest.mark.skipif(not kernel_clock.available(), reason="needs Linux /proc")

SPIN = "while True:\n    pass"
FLOOR = 5.0  # charged seconds: the calibrated limit of a fast cell in this test


def _cores() -> int:
    """The cores this process may run on (what the hogs must fill)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _spinners(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(n)]


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.kill()
    for proc in procs:
        proc.wait()


def _charge(code: str, seconds: float, hogs: int = 0) -> tuple[float, float, float]:
    """Run ``code`` for ``seconds`` (beside ``hogs`` spinning processes); return its
    ``(charged, cpu, wall)`` seconds."""
    hog = _spinners(hogs)
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        clock, started = KernelClock(lambda: proc.pid), time.monotonic()
        while time.monotonic() - started < seconds:
            time.sleep(0.2)
            clock.charged()
        return clock.charged(), kernel_clock.sample(proc.pid)[0], time.monotonic() - started
    finally:
        _stop([proc, *hog])


def test_a_sleeping_process_is_charged_like_a_wall_clock():
    """Is a process that sleeps charged the time it slept (so a limit stops it like a loop)?"""
    if not kernel_clock.waits_available():
        pytest.skip("no schedstat: sleepers are stopped by the wall-clock backstop instead")
    charged, cpu, wall = _charge("import time; time.sleep(60)", 2.0)
    assert cpu < 0.5 and charged >= 0.8 * wall, (charged, cpu, wall)


def test_waiting_for_a_busy_core_is_not_charged():
    """Is a spinning process charged its CPU seconds, not the time it waited for a core that
    other processes (two per core) held?"""
    charged, cpu, wall = _charge(SPIN, 3.0, hogs=2 * _cores())
    assert cpu < 0.8 * wall, (cpu, wall)  # it did wait: the hogs held the cores
    assert abs(charged - cpu) < 0.1 * wall + 0.1, (charged, cpu, wall)


def test_parallel_runs_measure_a_chapter_once(tmp_path, monkeypatch):
    """Do grade runs starting together on one machine (shards, several commands) measure a
    chapter once, the others waiting for the lock and reading the measurement?"""
    source = FIXTURE_SOURCE / "90_tiny.ipynb"
    measured = []

    def fake_measure(config, sources, path, workers=1):
        measured.append(sorted(sources))
        time.sleep(1.0)  # the others arrive while this one holds the lock
        nb = nbformat.read(str(source), as_version=4)
        timing_file.record(path, "90_tiny", nb, {"imports": 3.0, "ch90_double": 0.01})
        return ["90_tiny"]

    monkeypatch.setattr(calibrate, "measure", fake_measure)
    config = Config()
    config.ExecuteGraded.timings_file = str(tmp_path / "timings.json")
    found = []
    runs = [
        threading.Thread(
            target=lambda: found.append(calibrate.ensure_timings(config, {"90_tiny": source}))
        )
        for _ in range(3)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert measured == [["90_tiny"]]
    assert [f["90_tiny"]["total"] for f in found] == [3.01] * 3


def test_parallel_threads_are_charged_no_more_than_the_wall_clock():
    """Are two busy threads charged the wall-clock time, not the sum of their CPU seconds (so a
    limit is never stricter than a wall-clock limit of the same number)?"""
    two = (
        "import threading\ndef f():\n    while True: pass\nthreading.Thread(target=f).start()\nf()"
    )
    charged, cpu, wall = _charge(two, 2.0)
    assert charged <= wall + 0.1, (charged, cpu, wall)


# --- grade on a quiet and on a busy machine --------------------------------------------------


def _class(root) -> None:
    source = nbformat.read(str(FIXTURE_SOURCE / "90_tiny.ipynb"), as_version=4)
    cases.write(source, root / "honest" / "90_tiny.ipynb")
    loop = nbformat.read(str(FIXTURE_SOURCE / "90_tiny.ipynb"), as_version=4)
    for cell in loop.cells:
        if cases.nbg(cell).get("grade_id") == "ch90_double":
            cell.source = SPIN  # the answer loops: 90.1 scores 0, 90.2 is graded after it
    cases.write(loop, root / "loop" / "90_tiny.ipynb")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    _class(root / "subs")
    config = root / "config.py"
    config.write_text(
        CONFIG_FILE.read_text(encoding="utf-8") + f"\nc.ExecuteGraded.timing_floor = {FLOOR}\n",
        encoding="utf-8",
    )
    timings = root / "fresh" / "timings.json"  # a fresh timings location: nothing measured yet

    def grade(name: str):
        started = time.monotonic()
        proc = run_autograder(
            "--config", str(config), "grade", str(root / "subs"),
            "--out", str(root / name / "grades.csv"), "--source", str(FIXTURE_SOURCE),
            "--timings", str(timings), "--workers", "2", "--no-progress", "--db", "none",
            "--course", "none",
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        return {"proc": proc, "csv": root / name / "grades.csv", "wall": time.monotonic() - started}

    quiet = grade("quiet")
    measured = timings.read_bytes()
    hogs = _spinners(_cores())
    try:
        busy = grade("busy")
        assert all(h.poll() is None for h in hogs)  # they spun all along
    finally:
        _stop(hogs)
    return {"quiet": quiet, "busy": busy, "timings": timings, "measured": measured}


def test_grade_calibrates_by_itself_once(two_runs):
    """Does the first grade on a fresh timings location measure the instructor copy and record
    it (for this chapter version and grader), and the second reuse it without measuring?"""
    assert "measuring the instructor copy of 90_tiny" in two_runs["quiet"]["proc"].stderr
    assert "measuring" not in two_runs["busy"]["proc"].stderr, two_runs["busy"]["proc"].stderr
    assert two_runs["timings"].read_bytes() == two_runs["measured"]
    entry = json.loads(two_runs["measured"])["chapters"]["90_tiny"]
    assert entry["grader"] == code_version() and entry["fingerprint"]
    assert {"ch90_double", "ch90_double_test", "ch90_double_test#hidden"} <= set(entry["cells"])


def test_a_loop_costs_seconds_on_a_fresh_machine(two_runs):
    """Is the looping answer stopped at its calibrated limit (the floor, not the fixed 600 s),
    with the CSV naming the rule rather than a number measured on this machine?"""
    rows = read_csv(two_runs["quiet"]["csv"])
    loop = rows[("loop", "90_tiny")]
    assert (loop["status"], loop["score"]) == ("timeout", "1"), loop
    rule = f"calibrated: 10x the instructor's time, at least {FLOOR:g} s"
    assert f"exceeded its time limit ({rule})" in loop["message"], loop
    assert (rows[("honest", "90_tiny")]["status"], rows[("honest", "90_tiny")]["score"]) == (
        "ok",
        "3",
    )
    assert two_runs["quiet"]["wall"] < 400, two_runs["quiet"]["wall"]  # 600 s uncalibrated


def test_a_busy_machine_gives_the_same_csv(two_runs):
    """Is the CSV graded beside a CPU hog on every core byte-identical to the quiet one: the
    honest student still full marks, the loop still a timeout?"""
    assert two_runs["busy"]["csv"].read_bytes() == two_runs["quiet"]["csv"].read_bytes()
    print(f"quiet run {two_runs['quiet']['wall']:.0f} s, busy run {two_runs['busy']['wall']:.0f} s")
