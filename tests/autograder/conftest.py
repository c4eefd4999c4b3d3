"""Shared fixtures for the autograder tests: the chapters, their student copies, and one graded
class (every robustness case, graded together in a single ``--workers 2`` batch).
"""

from __future__ import annotations

import csv
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import cases  # noqa: E402
from servers import free_port  # noqa: E402

from autograder.paths import chapters  # noqa: E402
from autograder.release import Release  # noqa: E402

CHAPTERS = list(chapters().values())
FIXTURE_SOURCE = HERE / "fixtures" / "source"

# Grading limits for the tests: loose enough for a loaded 2-core machine, tight enough that the
# loop cases end quickly.
CELL_TIMEOUT = 30
NOTEBOOK_TIMEOUT = 240


def run_autograder(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``python -m autograder ARGS`` from the repository root, as an instructor would."""
    env = dict(os.environ)
    env["COURSE_SIZE"] = "full"  # grading must force the small size by itself
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_csv(path: Path) -> dict[tuple[str, str], dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {(r["student_id"], r["notebook"]): r for r in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def release():
    return Release()


@pytest.fixture(scope="session")
def smallest_chapter() -> Path:
    """The chapter with the fewest code cells: where misbehaving cells are injected."""
    if not CHAPTERS:
        pytest.skip("no chapter notebooks yet")

    def n_code(path):
        return sum(c.cell_type == "code" for c in nbformat.read(str(path), as_version=4).cells)

    return min(CHAPTERS, key=n_code)


def _build_class(root: Path, release: Release, smallest: Path) -> dict[str, str]:
    """Write the synthetic class; return ``{student_id: expectation}`` for reference."""
    made = {}
    sources = {p.stem: nbformat.read(str(p), as_version=4) for p in CHAPTERS}
    blanks = {p.stem: nbformat.reads(release.render(p), as_version=4) for p in CHAPTERS}
    stems = list(sources)
    for stem in stems:
        cases.write(
            cases.partial(sources[stem], blanks[stem]), root / f"partial-{stem}" / f"{stem}.ipynb"
        )
    # Metadata cases rotate over the chapters so that each chapter sees some of them.
    builders = {
        "tampered": lambda s: cases.tampered(blanks[s]),
        "deleted": lambda s: cases.deleted(sources[s]),
        "duplicated": lambda s: cases.duplicated(sources[s]),
        "extra": lambda s: cases.extra(sources[s]),
    }
    for i, (name, build) in enumerate(builders.items()):
        stem = stems[i % len(stems)]
        cases.write(build(stem), root / name / f"{stem}.ipynb")
        made[name] = stem
    small = smallest.stem
    for name, code in cases.BAD_CELLS.items():
        cases.write(cases.inject(sources[small], code), root / name / f"{small}.ipynb")
        made[name] = small
    (root / "malformed").mkdir()
    (root / "malformed" / f"{small}.ipynb").write_text(
        '{"cells": [{"cell_type": "code", ', encoding="utf-8"
    )
    made["malformed"] = small
    (root / "unknown").mkdir()
    (root / "unknown" / "99_not_a_chapter.ipynb").write_text("{}", encoding="utf-8")
    return made


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory, release, smallest_chapter):
    """Grade the whole synthetic class in one ``python -m autograder grade --workers 2`` call."""
    root = tmp_path_factory.mktemp("class")
    subs, out, feedback = root / "submitted", root / "grades.csv", root / "feedback"
    made = _build_class(subs, release, smallest_chapter)
    started = time.monotonic()
    proc = run_autograder(
        "grade",
        str(subs),
        "--out",
        str(out),
        "--feedback",
        str(feedback),
        "--workers",
        "2",
        "--cell-timeout",
        str(CELL_TIMEOUT),
        "--timeout",
        str(NOTEBOOK_TIMEOUT),
    )
    wall = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {
        "rows": read_csv(out),
        "csv": out,
        "feedback": feedback,
        "made": made,
        "wall": wall,
        "stdout": proc.stdout,
        "stderr": proc.stderr,
        "smallest": smallest_chapter.stem,
    }


def _fixture_class(root, release):
    source = nbformat.read(str(FIXTURE_SOURCE / "90_tiny.ipynb"), as_version=4)
    blank = nbformat.reads(release.render(FIXTURE_SOURCE / "90_tiny.ipynb"), as_version=4)
    hidden_fail = nbformat.reads(release.render(FIXTURE_SOURCE / "90_tiny.ipynb"), as_version=4)
    for cell, src in zip(hidden_fail.cells, source.cells):
        if cases.nbg(cell).get("grade_id") == "ch90_double":
            cell.source = (
                "def double(x):\n    return tf.constant(6.0)  # passes the visible check only"
            )
        elif cases.nbg(cell).get("solution"):
            cell.source = src.source
    cases.write(source, root / "full" / "90_tiny.ipynb")
    cases.write(blank, root / "blank" / "90_tiny.ipynb")
    cases.write(hidden_fail, root / "hidden_fail" / "90_tiny.ipynb")
    (root / "malformed").mkdir()
    (root / "malformed" / "90_tiny.ipynb").write_text("not json", encoding="utf-8")


@pytest.fixture(scope="session")
def fixture_grades(tmp_path_factory, release):
    root = tmp_path_factory.mktemp("fixture-class")
    _fixture_class(root / "subs", release)
    out = {}
    for workers in (1, 2):
        csv_path = root / f"grades-{workers}.csv"
        proc = run_autograder(
            "grade",
            str(root / "subs"),
            "--out",
            str(csv_path),
            "--workers",
            str(workers),
            "--feedback",
            str(root / f"feedback-{workers}"),
            "--source",
            str(FIXTURE_SOURCE),
            "--cell-timeout",
            str(CELL_TIMEOUT),
            "--timeout",
            str(NOTEBOOK_TIMEOUT),
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[workers] = csv_path
    out["feedback"] = root / "feedback-2"
    return out


def parse_check_table(stdout: str) -> dict[str, dict[str, tuple[float, float]]]:
    """``{stem: {"instructor": (score, max), "blank": (score, max), "ok": bool}}`` from check."""
    table = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0][:2].isdigit() and "/" in parts[1] and "/" in parts[2]:
            inst, blank = (tuple(float(x) for x in p.split("/")) for p in parts[1:3])
            table[parts[0]] = {"instructor": inst, "blank": blank, "ok": parts[3] == "ok"}
    return table


@pytest.fixture(scope="session")
def check_run(tmp_path_factory):
    """One ``python -m autograder check`` of every chapter, shared by the tests that need it
    (the check gate itself, and the stock-nbgrader test that compares its scores with it).
    Its instructor timings go to a temporary file, not the machine's autograder/timings.json."""
    if not CHAPTERS:
        pytest.skip("no chapter notebooks yet")
    timings = tmp_path_factory.mktemp("check-timings") / "timings.json"
    proc = run_autograder("check", "--workers", "2", "--no-progress", "--timings", str(timings))
    return {"proc": proc, "table": parse_check_table(proc.stdout), "timings": timings}


# --- a throwaway PostgreSQL server ----------------------------------------------------------


def _pg_bin() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresUnavailable(Exception):
    pass


def start_postgres(root: Path):
    """Start a PostgreSQL server on a temporary data directory and port; return
    ``(url, stop)``. Raises ``PostgresUnavailable`` with the reason when it cannot."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        raise PostgresUnavailable(
            "psycopg2 is not installed (pip install psycopg2-binary)"
        ) from None
    bin_dir = _pg_bin()
    if bin_dir is None:
        raise PostgresUnavailable(
            "no PostgreSQL server (Debian package postgresql; scripts/install_system_deps.sh)"
        )
    prefix: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        runuser = shutil.which("runuser")
        user = next((u for u in ("postgres", "nobody") if _has_user(u)), None)
        if runuser is None or user is None:
            raise PostgresUnavailable("running as root with no runuser or postgres/nobody user")
        prefix = [runuser, "-u", user, "--"]
    # /tmp itself, not pytest's tmp_path: the server's user must be able to reach it.
    data = Path(tempfile.mkdtemp(prefix="autograder-pg-", dir="/tmp"))
    if prefix:
        info = pwd.getpwnam(prefix[2])
        os.chown(data, info.pw_uid, info.pw_gid)
    port = free_port()

    def run(*cmd, timeout=120):
        return subprocess.run(
            [*prefix, *cmd], capture_output=True, text=True, timeout=timeout, cwd="/"
        )

    proc = run(str(bin_dir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres",
               "-E", "UTF8", "--no-sync")  # fmt: skip
    if proc.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        raise PostgresUnavailable(f"initdb failed: {proc.stderr[-500:]}")
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    proc = run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-o", options,
               "-l", str(data / "server.log"), "-w", "-t", "60", "start")  # fmt: skip
    if proc.returncode != 0:
        log = (
            (data / "server.log").read_text(errors="replace")
            if (data / "server.log").exists()
            else ""
        )
        shutil.rmtree(data, ignore_errors=True)
        raise PostgresUnavailable(f"pg_ctl start failed: {proc.stderr[-300:]} {log[-300:]}")

    def stop():
        run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)

    return f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres", stop


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """``{"url": ...}`` of a running server, or ``{"url": None, "reason": ...}`` (a test that
    needs the server calls ``servers.require_server`` with the reason: under CI it fails)."""
    try:
        url, stop = start_postgres(tmp_path_factory.mktemp("pg"))
    except PostgresUnavailable as exc:
        yield {"url": None, "reason": str(exc)}
        return
    try:
        yield {"url": url}
    finally:
        stop()
