"""Time every chapter notebook top to bottom in a fresh kernel, and report headline metrics.

Usage: python bench/chapters.py [--size full|small] [CHAPTER_STEM ...]

Prints one line per chapter: wall seconds (kernel start included) and any scalar variables
whose names start with ``test_acc`` (chapter 01 reports its Fashion-MNIST test accuracy so).
The issue target: each chapter under 300 s at full size on the course's 2-core CPU, and
chapter 01 at least 0.87 test accuracy.
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
    print(f"size={args.size} cpus={os.cpu_count()}")
    worst = 0.0
    for path in paths:
        wall, metrics = run(path, args.size)
        worst = max(worst, wall)
        shown = " ".join(f"{k}={v:.4f}" for k, v in metrics.items())
        print(f"{path.stem:32s} {wall:7.1f} s  {shown}", flush=True)
    print(f"slowest chapter: {worst:.1f} s (target at full size: < 300 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
