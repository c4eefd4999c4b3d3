"""``python -m autograder``: release student copies, grade a class, check the chapters."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from autograder.config import load_config
from autograder.paths import NOTEBOOKS, RELEASE

log = logging.getLogger("autograder")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Keras Deep Dive autograder (wraps nbgrader). Run from the repository root.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="configuration file (default: autograder/nbgrader_config.py)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True)

    rel = sub.add_parser("release", help="generate the student copy of every chapter")
    rel.add_argument(
        "--out", type=Path, default=RELEASE, help="output folder (default: autograder/release)"
    )
    rel.add_argument(
        "--source", type=Path, default=NOTEBOOKS, help="instructor notebooks (default: notebooks)"
    )

    def timing(p):
        p.add_argument(
            "--workers",
            type=int,
            default=None,
            help="parallel grading processes (default: number of cores)",
        )
        p.add_argument(
            "--cell-timeout",
            type=float,
            default=None,
            help="seconds one cell may run (default: 600)",
        )
        p.add_argument(
            "--timeout",
            type=float,
            default=None,
            help="seconds one notebook may run (default: 1800)",
        )
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument(
            "--source",
            type=Path,
            default=NOTEBOOKS,
            help="instructor notebooks (default: notebooks)",
        )

    gr = sub.add_parser("grade", help="grade a folder of submissions into a CSV")
    gr.add_argument("submissions", type=Path, help="folder holding <student_id>/<notebook>.ipynb")
    gr.add_argument("--out", type=Path, required=True, help="CSV file to write")
    gr.add_argument(
        "--feedback",
        type=Path,
        default=None,
        help="folder for one HTML report per student and notebook",
    )
    timing(gr)

    sub.add_parser("config", help="list every configurable option with its help and default")

    ch = sub.add_parser("check", help="instructor notebooks must score full marks, blank copies 0")
    ch.add_argument(
        "--release-dir",
        type=Path,
        default=RELEASE,
        help="committed student copies checked for drift",
    )
    timing(ch)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="[autograder] %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    config = load_config(args.config) if args.config else load_config()
    if getattr(args, "workers", None) is not None:
        config.GradeRunner.workers = args.workers
    if getattr(args, "cell_timeout", None) is not None:
        config.ExecuteGraded.cell_timeout = args.cell_timeout
    if getattr(args, "timeout", None) is not None:
        config.ExecuteGraded.notebook_timeout = args.timeout
    if getattr(args, "no_progress", False):
        config.GradeRunner.progress = 0

    if args.command == "release":
        from autograder.release import Release

        written = Release(config=config).release_all(args.source, args.out)
        for path in written:
            print(path)
        if not written:
            print(f"No chapter notebooks found in {args.source}", file=sys.stderr)
            return 1
        return 0

    if args.command == "grade":
        from autograder.grade import grade_folder

        try:
            rows = grade_folder(args.submissions, args.out, config, args.feedback, args.source)
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        summary = (
            ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to grade"
        )
        print(f"Graded {len(rows)} notebooks ({summary}) -> {args.out}")
        if args.feedback:
            print(f"Feedback reports in {args.feedback}/<student_id>/<notebook>.html")
        return 0

    if args.command == "config":
        print(config_help())
        return 0

    if args.command == "check":
        from autograder.check import run_check

        ok = run_check(config, args.source, args.release_dir)
        print("check passed" if ok else "check FAILED", file=sys.stderr)
        return 0 if ok else 1
    return 2


def config_help() -> str:
    """Help text of every option that ``autograder/nbgrader_config.py`` can set."""
    from autograder.execute import NotebookGrader
    from autograder.feedback import FeedbackWriter
    from autograder.grade import GradeRunner
    from autograder.preprocessors import ExecuteGraded, RestoreCells, ScoreCells, SplitHiddenTests
    from autograder.release import Release

    classes = [
        Release,
        GradeRunner,
        NotebookGrader,
        RestoreCells,
        SplitHiddenTests,
        ExecuteGraded,
        ScoreCells,
        FeedbackWriter,
    ]
    return "\n".join(cls.class_get_help() for cls in classes)
