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
            help="seconds any cell may run (charged seconds: waiting for a busy core does not "
            "count), overriding the calibrated limits (default: 10x the instructor's time, "
            "at least 20 s, at most 600 s)",
        )
        p.add_argument(
            "--timeout",
            type=float,
            default=None,
            help="seconds one notebook may run, overriding the calibrated limit (default: "
            "10x the instructor's total, at least 120 s, at most 1800 s)",
        )
        p.add_argument(
            "--timings",
            type=Path,
            default=None,
            help="instructor cell times: grade measures a chapter missing there (once per "
            "chapter and grader version) and calibrates time limits from them; check rewrites "
            "them (default: autograder/timings.json)",
        )
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument(
            "--whole",
            action="store_true",
            help="run every cell of every notebook top to bottom (default: the execution plan, "
            "which skips tutorial cells no graded cell depends on and reruns a notebook whole "
            "when a grade cell fails)",
        )
        p.add_argument(
            "--no-sandbox",
            action="store_true",
            help="run kernels without the bubblewrap sandbox (student code gets your rights; "
            "the CSV's sandbox column says off)",
        )
        p.add_argument(
            "--disk",
            default=None,
            help="disk space a kernel may write into its private home and /tmp, e.g. 512M "
            "(default: 1G each); past it the row's status is disk_full",
        )
        p.add_argument(
            "--memory",
            default=None,
            help="memory one kernel may allocate, e.g. 4G or 1500M (default: 4G); automatic "
            "--workers fits this much per worker in the memory available",
        )
        p.add_argument(
            "--max-size",
            default=None,
            help="largest submission file graded, e.g. 20M (default: 20M); larger ones get "
            "status too_large",
        )
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
    gr.add_argument(
        "--shard",
        type=_shard,
        default=None,
        metavar="K/N",
        help="grade only shard K of N (0 <= K < N), a stable split by student id; "
        "combine the shards with `merge`",
    )
    gr.add_argument(
        "--roster",
        type=Path,
        default=None,
        help="students.csv (column student_id or id): a `missing` row, score 0, for each "
        "student who handed in nothing for a chapter being graded",
    )
    gr.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="nbgrader gradebook (SQLAlchemy URL) to write the grades into; default "
        "sqlite:///<folder of --out>/gradebook.db; `none` writes none",
    )
    gr.add_argument(
        "--course",
        default=None,
        metavar="DIR",
        help="nbgrader course folder to write for formgrader: submitted/ and autograded/ "
        "notebooks and an nbgrader_config.py naming the gradebook (default: the folder of "
        "--out; `none` writes none)",
    )
    gr.add_argument(
        "--fresh",
        action="store_true",
        help="grade everything again: ignore and replace the resume journal next to --out "
        "(by default a re-run grades only what an interrupted run left, see autograder/README.md)",
    )
    timing(gr)

    mg = sub.add_parser(
        "merge", help="combine the CSVs of `grade --shard K/N` runs into one (as one run)"
    )
    mg.add_argument("shards", type=Path, nargs="+", help="the shard CSV files (JSON next to each)")
    mg.add_argument("--out", type=Path, required=True, help="merged CSV file to write")
    mg.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="nbgrader gradebook to write the merged grades into; default "
        "sqlite:///<folder of --out>/gradebook.db; `none` writes none",
    )
    mg.add_argument(
        "--source",
        type=Path,
        default=NOTEBOOKS,
        help="instructor notebooks (default: notebooks), for the gradebook's cells",
    )

    pu = sub.add_parser(
        "publish",
        help="write the student side (student copies, course_utils, data) to a folder of its own",
    )
    pu.add_argument("--out", type=Path, required=True, help="folder to write (must be empty)")
    pu.add_argument(
        "--repo-url",
        default=None,
        help="GitHub URL the folder will be pushed to: Colab badges and Setup cells point "
        "there (default: REPO_URL of course_utils/config.py)",
    )
    pu.add_argument(
        "--force", action="store_true", help="replace what --out holds (a .git folder is kept)"
    )
    pu.add_argument(
        "--source", type=Path, default=NOTEBOOKS, help="instructor notebooks (default: notebooks)"
    )

    rp = sub.add_parser(
        "report",
        help="one HTML page for the instructor: score distributions, pass rates and the most "
        "frequent check messages per exercise, submissions to review",
    )
    rp.add_argument("results", type=Path, help="grades.csv (or its grades.json) from grade/merge")
    rp.add_argument(
        "--out",
        type=Path,
        default=None,
        help="HTML file to write (default: next to RESULTS, grades.csv -> grades.html)",
    )

    sub.add_parser("config", help="list every configurable option with its help and default")

    li = sub.add_parser(
        "lint", help="every chapter's hidden blocks split cleanly into probes and expects"
    )
    li.add_argument(
        "notebooks", type=Path, nargs="*", help="instructor notebooks (default: every chapter)"
    )

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
        config.ExecuteGraded.calibrate_cells = False  # an explicit flag beats the calibration
    if getattr(args, "timeout", None) is not None:
        config.ExecuteGraded.notebook_timeout = args.timeout
        config.ExecuteGraded.calibrate_notebook = False
    if getattr(args, "timings", None) is not None:
        config.ExecuteGraded.timings_file = str(args.timings)
    if getattr(args, "no_progress", False):
        config.GradeRunner.progress = False
    if getattr(args, "whole", False):
        config.PlanCells.whole = True
    if getattr(args, "no_sandbox", False):
        config.Sandbox.enabled = False
    from autograder.sandbox import SandboxError, parse_size

    try:
        if getattr(args, "memory", None) is not None:
            config.Sandbox.memory = parse_size(args.memory)
        if getattr(args, "disk", None) is not None:
            config.Sandbox.disk = parse_size(args.disk)
        if getattr(args, "max_size", None) is not None:
            config.NotebookGrader.max_size = parse_size(args.max_size)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

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
        from autograder.grade import GradebookError, grade_folder
        from autograder.gradebook import NO_DB, RosterError, default_db_url
        from autograder.results import results_path

        try:
            rows = grade_folder(
                args.submissions,
                args.out,
                config,
                args.feedback,
                args.source,
                shard=args.shard,
                roster=args.roster,
                db_url=args.db,
                course=args.course,
                fresh=args.fresh,
            )
        except (FileNotFoundError, RosterError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except GradebookError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except SandboxError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        summary = (
            ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing to grade"
        )
        print(f"Graded {len(rows)} notebooks ({summary}) -> {args.out}")
        if not config.Sandbox.get("enabled", True):
            print(
                "WARNING: graded WITHOUT the sandbox (--no-sandbox): student code ran with your "
                "user's rights, environment and network (CSV column sandbox=off)"
            )
        flagged = [r for r in rows if r["status"] == "flagged"]
        if flagged:
            print(f"Flagged for review ({len(flagged)}): the score stands, a human should look:")
            for r in flagged:
                print(f"  {r['student_id']}/{r['notebook']}: {r['message']}")
        print(f"Per-cell results in {results_path(args.out)}")
        if args.db != NO_DB:
            print(f"nbgrader gradebook: {_shown(args.db or default_db_url(args.out))}")
        if args.feedback:
            print(f"Feedback reports in {args.feedback}/<student_id>/<notebook>.html")
        return 0

    if args.command == "merge":
        return _merge(args, config)

    if args.command == "publish":
        from autograder.publish import PublishError, publish

        try:
            done = publish(
                args.out, args.repo_url, force=args.force, config=config, source_dir=args.source
            )
        except PublishError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for path in done["stale"]:
            print(f"note: {path} differs from a fresh release (published the fresh one)")
        if done["note"]:
            print(f"note: {done['note']}")
        print(f"Published {len(done['notebooks'])} chapters for {done['repo_url']} -> {args.out}")
        return 0

    if args.command == "report":
        from autograder.report import ReportError, write_report

        try:
            out, report = write_report(args.results, args.out)
        except ReportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        n, chapters = report.students, len(report.chapters)
        print(f"Class report ({n} students, {chapters} chapters) -> {out}")
        return 0

    if args.command == "config":
        print(config_help())
        return 0

    if args.command == "lint":
        from autograder.lint import lint_all
        from autograder.paths import chapters

        problems = lint_all(args.notebooks or list(chapters().values()))
        for problem in problems:
            print(problem)
        print("lint passed" if not problems else f"lint FAILED ({len(problems)} problems)")
        return 0 if not problems else 1

    if args.command == "check":
        from autograder.check import run_check
        from autograder.grade import sandbox_mode

        try:
            sandbox_mode(config)
        except SandboxError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        ok = run_check(config, args.source, args.release_dir)
        print("check passed" if ok else "check FAILED", file=sys.stderr)
        return 0 if ok else 1
    return 2


def _shard(text: str) -> tuple[int, int]:
    from autograder.merge import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _merge(args, config) -> int:
    from autograder.gradebook import NO_DB, default_db_url, write_gradebook
    from autograder.merge import MergeError, merge
    from autograder.paths import chapters
    from autograder.release import Release
    from autograder.results import results_path

    try:
        rows = merge(args.shards, args.out)
    except MergeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n = len(args.shards)
    print(f"Merged {n} shard(s), {len(rows)} rows -> {args.out}, {results_path(args.out)}")
    if args.db != NO_DB:
        url = args.db or default_db_url(args.out)
        known = chapters(args.source, Release(config=config).notebook_glob)
        course_id = config.CourseDirectory.get("course_id") or "default_course"
        try:
            write_gradebook(url, rows, known, course_id)
        except Exception as exc:  # noqa: BLE001
            print(f"error: the gradebook could not be written: {exc}", file=sys.stderr)
            return 1
    return 0


def config_help() -> str:
    """Help text of every option that ``autograder/nbgrader_config.py`` can set."""
    from autograder.execute import NotebookGrader
    from autograder.feedback import FeedbackWriter
    from autograder.grade import GradeRunner
    from autograder.preprocessors import (
        ExecuteGraded,
        PlanCells,
        RestoreCells,
        ScoreCells,
        SplitHiddenTests,
    )
    from autograder.release import Release
    from autograder.sandbox import Sandbox

    classes = [
        Release,
        GradeRunner,
        NotebookGrader,
        RestoreCells,
        SplitHiddenTests,
        PlanCells,
        ExecuteGraded,
        ScoreCells,
        FeedbackWriter,
        Sandbox,
    ]
    return "\n".join(cls.class_get_help() for cls in classes)
