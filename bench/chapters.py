"""Time every chapter notebook top to bottom in a fresh kernel, and report headline metrics.

Usage: python bench/chapters.py [--size full|small] [CHAPTER_STEM ...]

Prints one line per chapter: wall seconds (kernel start included), its target, and any
scalar variables whose names start with ``test_acc`` (each chapter that trains a Fashion-MNIST
classifier reports its test accuracy so), then a whole-course line: the total time against
the 30-minute goal and each chapter's headline accuracy. Targets on the course's 2-core CPU at
full size: each chapter <= 300 s (chapters 03, the CNN, and 09, the capstone: 480 s); chapter 01
>= 0.87 test accuracy, chapter 03 >= 0.90 (its CPU schedule, 2 epochs; 6 epochs where a GPU
is found, about 0.92-0.93). At small size each chapter should take <= 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder.paths import chapters

REPO = Path(__file__).resolve().parent.parent
#: Seconds each chapter may take at full size (the default for any chapter not listed).
FULL_LIMIT = {"03_subclassing": 480.0, "09_capstone": 480.0}
FULL_LIMIT_DEFAULT = 300.0
SMALL_LIMIT = 60.0
COURSE_LIMIT = 1800.0

PROBE = """\
import json as _json, numbers as _numbers
_m = {k: float(v) for k, v in dict(globals()).items()
      if k.startswith("test_acc") and (isinstance(v, _numbers.Number) or getattr(v, "shape", 0) == ())}
print("BENCH-METRICS " + _json.dumps(_m))
"""


def run(path: Path, size: str) -> tuple[float, dict]:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    env = dict(os.environ, COURSE_SIZE=size, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("NBGRADER_EXECUTION", None)
    with tempfile.TemporaryDirectory() as cwd:
        client = NotebookClient(
            nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": cwd}}
        )
        start = time.perf_counter()
        client.execute(env=env)
        wall = time.perf_counter() - start
    metrics = {}
    for out in nb.cells[-1].outputs:
        text = out.get("text", "")
        if text.startswith("BENCH-METRICS "):
            metrics = json.loads(text.split(" ", 1)[1])
    return wall, metrics


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["small", "full"], default="full")
    parser.add_argument("chapters", nargs="*", help="notebook stems (default: all)")
    args = parser.parse_args()
    paths = list(chapters().values())
    if args.chapters:
        paths = [p for p in paths if p.stem in args.chapters]
    print(f"size={args.size} cpus={os.cpu_count()}", flush=True)
    total, headline, over = 0.0, {}, []
    for path in paths:
        wall, metrics = run(path, args.size)
        total += wall
        limit = (
            FULL_LIMIT.get(path.stem, FULL_LIMIT_DEFAULT) if args.size == "full" else SMALL_LIMIT
        )
        if wall > limit:
            over.append(path.stem)
        if "test_acc" in metrics:
            headline[path.stem[:2]] = metrics["test_acc"]
        shown = " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
        flag = "ok" if wall <= limit else "OVER"
        print(f"{path.stem:32s} {wall:7.1f} s (<= {limit:.0f} s {flag})  {shown}", flush=True)
    accs = " ".join(f"{k}:{v:.4f}" for k, v in headline.items()) or "-"
    goal = f" (goal <= {COURSE_LIMIT / 60:.0f} min)" if args.size == "full" else ""
    print(f"whole course: {len(paths)} chapters in {total:.1f} s = {total / 60:.1f} min{goal}")
    print(f"headline test accuracy: {accs}")
    if over:
        print(f"over their time limit: {', '.join(over)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
