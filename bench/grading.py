"""Benchmark: stock ``nbgrader autograde`` against ``python -m autograder grade``.

In one run, on one synthetic class (K students x the chapters; the students are in turn
``full`` (the instructor's answers), ``partial`` (every other answer cell answered) and
``blank`` (the student copy untouched)), it measures

* **stock**: ``nbgrader generate_assignment`` per chapter (not timed), then one
  ``nbgrader autograde "*"`` for the whole class (timed; one process, as nbgrader's docs run it);
* **ours (plan)**: ``python -m autograder grade SUBMISSIONS --workers N`` (timed): each
  submission runs only the cells its grade cells need;
* **ours (whole)**: the same with ``--whole`` (every cell, top to bottom);
* **floor**: what no grader can avoid, a fresh kernel that imports TensorFlow, measured one at
  a time (the target: ours with the plan <= 1.5 x floor) and N at a time;
* **baseline** (``--baseline REF``, e.g. the commit before a grading redesign): the grader and
  chapters of that commit (a git worktree, its own ``course_utils`` first on ``PYTHONPATH``)
  grading the same class of that commit's instructor answers, against ours, both
  ``--no-sandbox`` (the worktree's course is not where the sandbox mounts it from), alternated
  ``--rounds`` times; the fastest of each is compared. Our expected values are computed before
  the timing (once per chapter version, as an instructor pays them) and reported apart.

and prints seconds per notebook (class wall time over notebooks) for each, the ratios, and
whether the plan ever scored a notebook lower than the whole run (it must not: exit 1).
Run from the repository root::

    .venv/bin/python bench/grading.py --students 3 --workers 2
    .venv/bin/python bench/grading.py --students 2 --baseline 3689335 --only-baseline
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from autograder import paths

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable


def env_small() -> dict[str, str]:
    env = dict(os.environ)
    env.update(COURSE_SIZE="small", TF_CPP_MIN_LOG_LEVEL="2")
    # nbgrader runs the `alembic` executable of the environment it is installed in.
    env["PATH"] = os.pathsep.join([str(Path(PY).parent), env.get("PATH", "")])
    return env


def run(cmd, cwd=REPO, check=True, extra_env=None) -> float:
    started = time.perf_counter()
    env = {**env_small(), **(extra_env or {})}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if check and proc.returncode != 0:
        sys.exit(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{proc.stderr[-3000:]}"
        )
    return elapsed


FLOOR_SCRIPT = r"""
import sys, time
import nbformat
from nbclient import NotebookClient
path = sys.argv[1] if len(sys.argv) > 1 else None
nb = nbformat.read(path, as_version=4) if path else nbformat.v4.new_notebook(
    cells=[nbformat.v4.new_code_cell("import tensorflow as tf")])
t = time.perf_counter()
NotebookClient(nb, kernel_name="python3", timeout=900, allow_errors=True, shutdown_kernel="immediate").execute()
print(time.perf_counter() - t)
"""


def timed_kernels(paths: list[str | None], workers: int) -> tuple[float, list[float]]:
    """Run ``paths`` (None = kernel start + import tensorflow) ``workers`` at a time.

    The timing is taken inside each process around kernel start + execution, so it leaves out
    the client's own interpreter start. Returns (wall seconds, per-run seconds).
    """

    def one(path):
        cmd = [PY, "-c", "import sys; sys.modules['rfc3987_syntax'] = None\n" + FLOOR_SCRIPT]
        if path:
            cmd.append(path)
        # In a scratch folder: chapters write files (plots, checkpoints) to their working directory.
        with tempfile.TemporaryDirectory(prefix="bench-kernel-") as cwd:
            out = subprocess.run(
                cmd, cwd=cwd, env=env_small(), capture_output=True, text=True, check=True
            ).stdout
        return float(out.strip().splitlines()[-1])

    # The wall is the sum over rounds of the slowest run in the round: interpreter start of the
    # timing script itself is excluded, as a grader pays it once per batch, not per notebook.
    per_run, wall = [], 0.0
    for i in range(0, len(paths), workers):
        with ThreadPoolExecutor(workers) as pool:
            batch = list(pool.map(one, paths[i : i + workers]))
        per_run += batch
        wall += max(batch)
    return wall, per_run


KINDS = ("full", "partial", "blank")


def submission(instructor: Path, blank: Path, kind: str):
    """A student's notebook: ``full`` hands in the instructor's answers, ``blank`` the student
    copy untouched, ``partial`` the student copy with every other answer cell answered."""
    if kind == "full":
        return nbformat.read(str(instructor), as_version=4)
    nb = nbformat.read(str(blank), as_version=4)
    if kind == "partial":
        answers = {
            c.metadata["nbgrader"]["grade_id"]: c.source
            for c in nbformat.read(str(instructor), as_version=4).cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
        }
        ids = [
            c
            for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
        ]
        for cell in ids[::2]:
            cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
    return nb


def _class(folder: Path, sources: list[Path], students: list[str]) -> None:
    for ch in sources:
        for s in students:
            (folder / s).mkdir(parents=True, exist_ok=True)
            shutil.copy(ch, folder / s / ch.name)


def _grade_cmd(subs: Path, out: Path, workers: int) -> list[str]:
    return [
        PY, "-m", "autograder", "grade", str(subs), "--out", str(out), "--workers", str(workers),
        "--no-progress", "--no-sandbox", "--db", "none",
    ]  # fmt: skip


def _full(csv_path: Path) -> tuple[int, int]:
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return sum(float(r["score"]) == float(r["max_score"]) for r in rows), len(rows)


def compare_baseline(args, chapters: list[Path], students: list[str], tmp: Path) -> None:
    """Ours against the grader of ``args.baseline`` on the same class (see the module doc)."""
    tree = tmp / "baseline"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), args.baseline],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    try:
        old_sources = [tree / "notebooks" / ch.name for ch in chapters]
        old_sources = [p for p in old_sources if p.exists()]
        _class(tmp / "baseline-class", old_sources, students)
        _class(
            tmp / "ours-class",
            [ch for ch in chapters if (tree / "notebooks" / ch.name).exists()],
            students,
        )
        n = len(old_sources) * len(students)
        old_env = {"PYTHONPATH": str(tree)}
        print("ours: expected values (once per chapter version) ...", flush=True)
        from autograder.reference import References

        started = time.perf_counter()
        _, failed = References().ensure(
            [ch for ch in chapters if (tree / "notebooks" / ch.name).exists()], args.workers
        )
        warm = time.perf_counter() - started
        if failed:
            sys.exit(f"expected values failed: {failed}")
        old_times, new_times = [], []
        for r in range(args.rounds):
            print(
                f"round {r + 1}/{args.rounds}: baseline {args.baseline}, then ours ...", flush=True
            )
            cmd = _grade_cmd(tmp / "baseline-class", tmp / f"baseline-{r}.csv", args.workers)
            old_times.append(run(cmd, cwd=tree, extra_env=old_env))
            cmd = _grade_cmd(tmp / "ours-class", tmp / f"ours-{r}.csv", args.workers)
            new_times.append(run(cmd))
        old_nb, new_nb = min(old_times) / n, min(new_times) / n
        old_full, new_full = _full(tmp / "baseline-0.csv"), _full(tmp / "ours-0.csv")
        print()
        print(
            f"class: {n} notebooks, --workers {args.workers}, --no-sandbox, best of {args.rounds}"
        )
        print(
            f"{'baseline ' + args.baseline:34}{old_nb:12.2f} s/notebook  ({old_full[0]}/{old_full[1]} at full marks)"
        )
        print(f"{'ours':34}{new_nb:12.2f} s/notebook  ({new_full[0]}/{new_full[1]} at full marks)")
        print(f"{'ours: expected values, once':34}{warm:12.2f} s for {len(old_sources)} chapters")
        print(f"ours / baseline per notebook: {new_nb / old_nb:.3f}  (target <= 1.10)")
        print()
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--students",
        "-k",
        type=int,
        default=3,
        help="students in the class (default 3: full, partial, blank)",
    )
    parser.add_argument(
        "--chapters", nargs="*", default=None, help="chapter stems (default: all in notebooks/)"
    )
    parser.add_argument("--workers", type=int, default=2, help="workers for our grader (default 2)")
    parser.add_argument(
        "--floor-repeats", type=int, default=4, help="kernel+TensorFlow starts for the floor"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary course folder")
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="grade ours without the bubblewrap sandbox (default: sandboxed, as instructors run it)",
    )
    parser.add_argument(
        "--baseline",
        default=None,
        help="git commit whose grader to compare with ours (same class, both --no-sandbox)",
    )
    parser.add_argument(
        "--only-baseline",
        action="store_true",
        help="with --baseline: skip stock nbgrader, the floor and the plan/whole runs",
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternations with --baseline")
    args = parser.parse_args()

    chapters = list(paths.chapters().values())
    if args.chapters:
        chapters = [p for p in chapters if p.stem in set(args.chapters)]
    if not chapters:
        sys.exit("no chapters found")
    students = [f"student{i:02d}" for i in range(args.students)]
    n = len(students) * len(chapters)
    tmp = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    print(
        f"class: {len(students)} students x {len(chapters)} chapters = {n} notebooks; "
        f"{os.cpu_count()} cores; folder {tmp}"
    )

    if args.baseline:
        compare_baseline(args, chapters, students, tmp)
        if args.only_baseline:
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
            return

    # --- the class: full, partial and blank students, the same notebooks for every grader --
    kinds = {s: KINDS[i % len(KINDS)] for i, s in enumerate(students)}
    course = tmp / "course"
    (course / "source").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'bench'\n"
        "c.Execute.timeout = 600  # the 30 s default is too short for training cells\n",
        encoding="utf-8",
    )
    ours_dir = tmp / "ours"
    for ch in chapters:
        (course / "source" / ch.stem).mkdir()
        shutil.copy(ch, course / "source" / ch.stem / ch.name)
        run([PY, "-m", "nbgrader", "generate_assignment", ch.stem, "--force"], cwd=course)
        blank = course / "release" / ch.stem / ch.name
        for s in students:
            nb = submission(ch, blank, kinds[s])
            for dest in (course / "submitted" / s / ch.stem, ours_dir / s):
                dest.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, dest / ch.name)
            stamp = course / "submitted" / s / ch.stem / "timestamp.txt"
            stamp.write_text("2026-01-01 00:00:00 UTC", encoding="utf-8")
    print("kinds: " + ", ".join(f"{s}={k}" for s, k in kinds.items()))

    # --- measurements (one run, one machine; compare the ratios, not the seconds) ---------------
    print("floor: kernel start + import tensorflow ...", flush=True)
    floor_seq_wall, floor_seq = timed_kernels([None] * args.floor_repeats, 1)
    floor_par_wall, _ = timed_kernels([None] * max(args.floor_repeats, args.workers), args.workers)
    floor_par = floor_par_wall / max(args.floor_repeats, args.workers)

    print("stock: nbgrader autograde (one process, as its docs run it) ...", flush=True)
    # One command for the whole class ("*" = every assignment), so nbgrader's start-up is paid once.
    stock = run([PY, "-m", "nbgrader", "autograde", "*", "--force"], cwd=course)
    graded = sorted(
        p.relative_to(course / "autograded") for p in (course / "autograded").rglob("*.ipynb")
    )
    if len(graded) != n:
        sys.exit(f"stock nbgrader graded {len(graded)} of {n} notebooks")

    sandbox_flag = ["--no-sandbox"] if args.no_sandbox else []
    results = {}
    for name, extra in (("plan", []), ("whole", ["--whole"])):
        print(f"ours ({name}): python -m autograder grade --workers {args.workers} ...", flush=True)
        csv_path = tmp / f"grades-{name}.csv"
        cmd = _grade_cmd(ours_dir, csv_path, args.workers)
        cmd = [c for c in cmd if c != "--no-sandbox"] + sandbox_flag + ["--fresh", *extra]
        seconds = run(cmd)
        with open(csv_path, newline="", encoding="utf-8") as fh:
            rows = {(r["student_id"], r["notebook"]): r for r in csv.DictReader(fh)}
        results[name] = (seconds, rows)

    (plan, plan_rows), (whole, whole_rows) = results["plan"], results["whole"]
    lower = [k for k, r in plan_rows.items() if float(r["score"]) < float(whole_rows[k]["score"])]
    differ = [k for k, r in plan_rows.items() if r["score"] != whole_rows[k]["score"]]
    sandbox = ",".join(sorted({r.get("sandbox") or "?" for r in plan_rows.values()}))
    stock_nb, plan_nb, whole_nb = stock / n, plan / n, whole / n
    floor_med = statistics.median(floor_seq)
    print()
    print(
        f"class: {n} notebooks ({len(chapters)} chapters), {os.cpu_count()} cores, sandbox={sandbox}"
    )
    print(f"{'':36}{'s/notebook':>12}")
    print(f"{'stock nbgrader autograde (1 proc)':36}{stock_nb:12.2f}")
    print(f"{f'ours, plan, --workers {args.workers}':36}{plan_nb:12.2f}")
    print(f"{f'ours, --whole, --workers {args.workers}':36}{whole_nb:12.2f}")
    print(f"{'floor, 1 at a time (median)':36}{floor_med:12.2f}")
    print(f"{f'floor, {args.workers} at a time (throughput)':36}{floor_par:12.2f}")
    print()
    print(f"stock / ours (plan):   {stock_nb / plan_nb:5.2f}x  (target >= 4x)")
    print(f"stock / ours (whole):  {stock_nb / whole_nb:5.2f}x")
    print(f"ours (plan) / floor:   {plan_nb / floor_med:5.2f}   (target <= 1.5; floor 1 at a time)")
    print(f"ours (plan) / floor at {args.workers} at a time: {plan_nb / floor_par:5.2f}")
    print(
        f"plan vs whole scores: {len(differ)} of {n} notebooks differ, {len(lower)} lower "
        "under the plan (fairness: must be 0)"
    )
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    if lower:
        sys.exit(f"the plan scored lower than a whole run: {lower}")


if __name__ == "__main__":
    main()
