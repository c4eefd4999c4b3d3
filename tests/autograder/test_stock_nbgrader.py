"""Stock nbgrader, without our wrapper: the recipe in ``autograder/README.md`` section 7, followed
literally in a fresh nbgrader course directory, for every chapter, with a full and a blank
submission. Stock nbgrader must give the scores ``python -m autograder check`` gives.

The commands are read from the README's code blocks and run as written (only the repository
path is filled in), so the documented recipe and the tested one cannot drift apart.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import CHAPTERS, REPO

README = REPO / "autograder" / "README.md"
SECTION = "## 7. Grading with stock nbgrader"
pytestmark = [
    pytest.mark.skipif(not CHAPTERS, reason="no chapter notebooks yet"),
    # The first test pays for the whole class: stock nbgrader grades 2 x 9 notebooks in sequence.
    pytest.mark.timeout(3000),
]


def recipe() -> tuple[str, str, list[str]]:
    """``(copy_script, nbgrader_config, commands)`` from the README's stock-nbgrader section."""
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, f"{README} has no '{SECTION}' section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)
    assert [lang for lang, _ in blocks] == ["bash", "python", "bash"], blocks
    commands = [ln.split("#", 1)[0].strip() for ln in blocks[2][1].splitlines()]
    return blocks[0][1], blocks[1][1], [c for c in commands if c]


def nbgrader_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("COURSE_SIZE", None)  # the README says not to set it: NBGRADER_EXECUTION decides
    # `nbgrader` and the `alembic` it calls come from the environment the tests run in.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def sh(command: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env=nbgrader_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, (
        f"`{command}` failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A stock nbgrader course directory taken through the whole recipe."""
    copy_script, config, commands = recipe()
    root = tmp_path_factory.mktemp("stock-nbgrader")
    course = root / "my-course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text(config, encoding="utf-8")
    sh(copy_script.replace("/path/to/keras-deep-dive", str(REPO)), cwd=root, timeout=60)
    assert commands[0].startswith("nbgrader generate_assignment"), commands
    sh(commands[0], cwd=course, timeout=300)
    # Students hand in: "full" the instructor's answers, "blank" the untouched student copy.
    for chapter in CHAPTERS:
        stem = chapter.stem
        for student, src in (
            ("full", course / "source" / stem / f"{stem}.ipynb"),
            ("blank", course / "release" / stem / f"{stem}.ipynb"),
        ):
            dest = course / "submitted" / student / stem
            dest.mkdir(parents=True)
            shutil.copy(src, dest / f"{stem}.ipynb")
    autograde, rest = commands[1], commands[2:]
    assert autograde.startswith("nbgrader autograde"), commands
    # nbgrader grades one notebook at a time; as the README suggests for several cores, one
    # autograde per student runs at once (both write the same SQLite gradebook).
    procs = [
        subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", f"{autograde} --student {student}"],
            cwd=course,
            env=nbgrader_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for student in ("full", "blank")
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=2400)
        assert proc.returncode == 0, f"`{autograde}` failed:\n{out[-4000:]}"
    for command in rest:
        sh(command, cwd=course, timeout=600)
    return course


@pytest.fixture(scope="module")
def exported(course) -> dict[tuple[str, str], dict]:
    with open(course / "grades.csv", newline="", encoding="utf-8") as fh:
        return {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_stock_nbgrader_scores_equal_ours(chapter, exported, check_run):
    """Does `nbgrader export` give, per chapter, the scores `python -m autograder check` gives?"""
    ours = check_run["table"].get(chapter.stem)
    assert ours, f"check printed no row for {chapter.stem}:\n{check_run['proc'].stdout}"
    full, blank = exported[("full", chapter.stem)], exported[("blank", chapter.stem)]
    # nbgrader's max_score also counts written answers graded by hand; ours counts autograded
    # points only (the CSV's message says how many await a human).
    manual = _manual_points(chapter)
    assert (float(full["score"]), float(full["max_score"]) - manual) == ours["instructor"]
    assert (float(blank["score"]), float(blank["max_score"]) - manual) == ours["blank"]
    assert float(full["score"]) == float(full["max_score"]) - manual > 0  # gradeable at all


def _manual_points(chapter) -> float:
    """Points of the cells graded by hand (answer cells that carry points)."""
    nb = nbformat.read(str(chapter), as_version=4)
    return sum(
        float(c.metadata.get("nbgrader", {}).get("points", 0) or 0)
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution")
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_full_submission_runs_without_an_error(chapter, course):
    """Did every cell of the instructor's answers run without an error under stock autograde, and
    no grade cell write to stderr? (Stock nbgrader scores a grade cell with any stderr output 0:
    a library warning there costs the cell's points.)"""
    stem = chapter.stem
    nb = nbformat.read(str(course / "autograded" / "full" / stem / f"{stem}.ipynb"), as_version=4)
    errors = [
        f"cell {i}: {out.get('ename')}: {out.get('evalue', '')[:200]}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, errors
    stderr = [
        f"{cell.metadata['nbgrader']['grade_id']}: {out.get('text', '')[:300]}"
        for cell in nb.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    ]
    assert not stderr, stderr


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_generate_assignment_matches_the_committed_student_copy(chapter, course):
    """Is nbgrader's own student copy the one the Colab badge opens (same cells, checksums)?"""
    stem = chapter.stem
    stock = nbformat.read(str(course / "release" / stem / f"{stem}.ipynb"), as_version=4)
    ours = nbformat.read(str(REPO / "autograder" / "release" / stem / f"{stem}.ipynb"), 4)

    def cells(nb):
        return [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in nb.cells]

    assert cells(stock) == cells(ours)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_generate_feedback_reports_the_exported_score(chapter, course, exported):
    """Does each student's stock feedback report open with the score `nbgrader export` gives?"""
    stem = chapter.stem
    for student in ("full", "blank"):
        html = (course / "feedback" / student / stem / f"{stem}.html").read_text(encoding="utf-8")
        row = exported[(student, stem)]
        total = re.search(r"Score: ([\d.]+) / ([\d.]+)", html)
        assert total, f"{student}/{stem}: no score in the feedback report"
        assert (float(total[1]), float(total[2])) == (float(row["score"]), float(row["max_score"]))
