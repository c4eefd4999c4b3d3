"""Benchmark: stock ``nbgrader autograde`` against ``python -m autograder grade``.

In one run, on the same synthetic class (K students x the chapters, every student handing in
the instructor's answers), it measures

* **stock**: ``nbgrader generate_assignment`` per chapter (not timed), then one
  ``nbgrader autograde "*"`` for the whole class (timed; sequential, as nbgrader works);
* **ours**: ``python -m autograder grade SUBMISSIONS --workers N`` (timed);
* **floor**: what no grader can avoid, a fresh kernel that imports TensorFlow, measured one at
  a time (the target: ours s/notebook <= 1.2 x floor) and N at a time (a stricter view, where
  the chapters' own cells count against the grader);
* **plain**: each chapter run top to bottom by nbclient with no grading at all (the notebook's
  own cost on top of the floor), N at a time;
* **baseline** (``--baseline REF``, e.g. the commit before a grading redesign): the grader and
  chapters of that commit (a git worktree, its own ``course_utils`` first on ``PYTHONPATH``)
  grading the same class of that commit's instructor answers, against ours, both
  ``--no-sandbox`` (the worktree's course is not where the sandbox mounts it from), alternated
  ``--rounds`` times; the fastest of each is compared. Our expected values are computed before
  the timing (once per chapter version, as an instructor pays them) and reported apart.

and prints seconds per notebook for each, the throughput ratio stock/ours and ours/floor.
Run from the repository root::

    .venv/bin/python bench/grading.py --students 4 --workers 2
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
        "--students", "-k", type=int, default=4, help="students in the class (default 4)"
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
        help="with --baseline: skip stock nbgrader, the floor and the plain runs",
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

    # --- stock nbgrader course -------------------------------------------------------------
    course = tmp / "course"
    (course / "source").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'bench'\n"
        "c.Execute.timeout = 600  # the 30 s default is too short for training cells\n",
        encoding="utf-8",
    )
    for ch in chapters:
        (course / "source" / ch.stem).mkdir()
        shutil.copy(ch, course / "source" / ch.stem / ch.name)
        run([PY, "-m", "nbgrader", "generate_assignment", ch.stem, "--force"], cwd=course)
        for s in students:
            dest = course / "submitted" / s / ch.stem
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(ch, dest / ch.name)
            (dest / "timestamp.txt").write_text("2026-01-01 00:00:00 UTC", encoding="utf-8")

    # --- the same submissions for our grader -------------------------------------------------
    ours_dir = tmp / "ours"
    for ch in chapters:
        for s in students:
            (ours_dir / s).mkdir(parents=True, exist_ok=True)
            shutil.copy(ch, ours_dir / s / ch.name)

    # --- measurements (interleaved order would be fairer on a noisy machine; keep it simple) ---
    print("floor: kernel start + import tensorflow ...", flush=True)
    floor_seq_wall, floor_seq = timed_kernels([None] * args.floor_repeats, 1)
    floor_par_wall, _ = timed_kernels([None] * max(args.floor_repeats, args.workers), args.workers)
    floor_par = floor_par_wall / max(args.floor_repeats, args.workers)

    print("plain: chapters run by nbclient, no grading ...", flush=True)
    plain_paths = [str(ch) for ch in chapters] * max(1, args.workers)
    plain_wall, _ = timed_kernels(plain_paths, args.workers)
    plain_par = plain_wall / len(plain_paths)

    print("stock: nbgrader autograde ...", flush=True)
    # One command for the whole class ("*" = every assignment), so nbgrader's start-up is paid once.
    stock = run([PY, "-m", "nbgrader", "autograde", "*", "--force"], cwd=course)
    graded = sorted(
        p.relative_to(course / "autograded") for p in (course / "autograded").rglob("*.ipynb")
    )
    if len(graded) != n:
        sys.exit(f"stock nbgrader graded {len(graded)} of {n} notebooks")

    print(f"ours: python -m autograder grade --workers {args.workers} ...", flush=True)
    csv_path = tmp / "grades.csv"
    ours = run(
        [
            PY,
            "-m",
            "autograder",
            "grade",
            str(ours_dir),
            "--out",
            str(csv_path),
            "--workers",
            str(args.workers),
            "--no-progress",
            *(["--no-sandbox"] if args.no_sandbox else []),
        ]
    )
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    full = sum(r["status"] == "ok" and float(r["score"]) == float(r["max_score"]) for r in rows)
    sandbox = ",".join(sorted({r.get("sandbox") or "?" for r in rows}))

    stock_nb, ours_nb = stock / n, ours / n
    floor_med = statistics.median(floor_seq)
    print()
    print(f"{'':34}{'s/notebook':>12}")
    print(f"{'stock nbgrader autograde (1 proc)':34}{stock_nb:12.2f}")
    print(
        f"{f'ours, --workers {args.workers}':34}{ours_nb:12.2f}   ({full}/{len(rows)} notebooks at full marks, sandbox={sandbox})"
    )
    print(f"{'floor, 1 at a time (median)':34}{floor_med:12.2f}")
    print(f"{f'floor, {args.workers} at a time (throughput)':34}{floor_par:12.2f}")
    print(f"{f'plain nbclient run, {args.workers} at a time':34}{plain_par:12.2f}")
    print()
    print(
        f"throughput ratio stock/ours:                  {stock_nb / ours_nb:.2f}x  (target >= 1.8x)"
    )
    print(
        f"ours s/notebook / floor (1 kernel + TF import): {ours_nb / floor_med:.2f}   (target <= 1.2)"
    )
    print(
        f"ours / floor at the same parallelism:         {ours_nb / floor_par:.2f}"
        "   (stricter: the chapters' own cells count against us)"
    )
    print(
        f"ours / plain nbclient run at that parallelism: {ours_nb / plain_par:.2f}   (grader overhead)"
    )
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
