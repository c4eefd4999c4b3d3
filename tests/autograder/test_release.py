"""Tests of ``python -m autograder release``: the committed student copies."""

from __future__ import annotations

import re

import nbformat
import pytest
from conftest import CHAPTERS, REPO, run_autograder

from autograder.paths import RELEASE, release_path

pytestmark = pytest.mark.skipif(not CHAPTERS, reason="no chapter notebooks yet")
ids = [p.stem for p in CHAPTERS]


def _region_lines(source: str, begin: str, end: str) -> list[str]:
    lines, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            lines.append(line.strip())
    return lines


def test_committed_copies_match_a_fresh_release(release):
    """Do the committed student copies match a fresh release byte for byte (refresh: `python -m autograder release`)?"""
    problems = release.drift(REPO / "notebooks", RELEASE)
    assert not problems, (
        "student copies out of date, run `python -m autograder release`:\n" + "\n".join(problems)
    )


def test_committed_hints_match_the_notebooks(release):
    """Does course_utils/hints.json hold exactly the hints of the notebooks' answer cells
    (refresh: `python -m autograder release`; the drift check above covers it too)?"""
    problems = release.hints_drift(REPO / "notebooks")
    assert not problems, "hints out of date, run `python -m autograder release`:\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids)
def test_release_is_deterministic(release, chapter):
    """Does releasing the same chapter twice give identical text?"""
    assert release.render(chapter) == release.render(chapter)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids)
def test_student_copy_has_no_solutions_or_hidden_tests(release, chapter):
    """Is every solution line and hidden test line absent from the student copy?"""
    source = nbformat.read(str(chapter), as_version=4)
    text = release.render(chapter)
    copy = nbformat.reads(text, as_version=4)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    outside = "\n".join(c.source for c in copy.cells)
    public = "\n".join(
        re.sub(
            r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END (SOLUTION|HIDDEN TESTS)",
            "",
            c.source,
            flags=re.S,
        )
        for c in source.cells
    )
    for cell in source.cells:
        secret = _region_lines(cell.source, "BEGIN SOLUTION", "END SOLUTION")
        secret += _region_lines(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
        for line in secret:
            if len(line) >= 12 and line not in public and not line.startswith("#"):
                assert line not in outside, f"{chapter.name}: leaked line {line!r}"
    assert all(not c.get("outputs") for c in copy.cells if c.cell_type == "code")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids)
def test_student_copy_keeps_bootstrap_checks_and_cell_ids(release, chapter):
    """Does the student copy keep the Colab bootstrap, the visible checks and every cell id?"""
    source = nbformat.read(str(chapter), as_version=4)
    copy = nbformat.reads(release.render(chapter), as_version=4)
    assert [c.get("id") for c in copy.cells] == [c.get("id") for c in source.cells]
    assert any("google.colab" in c.source and "pip install" in c.source for c in copy.cells)
    by_id = {c.id: c for c in copy.cells}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            visible = cell.source.split("### BEGIN HIDDEN TESTS")[0].rstrip()
            assert by_id[cell.id].source.startswith(visible), (
                f"{meta['grade_id']}: visible checks changed"
            )
            assert by_id[cell.id].metadata["nbgrader"]["points"] == meta["points"]
        if meta.get("solution"):  # a written answer (markdown) is left for the student to fill
            stub = "raise NotImplementedError()" if cell.cell_type == "code" else "YOUR ANSWER HERE"
            assert stub in by_id[cell.id].source


def test_release_command_writes_one_folder_per_chapter(tmp_path, release):
    """Does `python -m autograder release --out DIR` write DIR/<stem>/<stem>.ipynb for every chapter?"""
    proc = run_autograder("release", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.ipynb"))
    assert written == sorted(f"{p.stem}/{p.stem}.ipynb" for p in CHAPTERS)
    for p in CHAPTERS:
        assert release_path(p.stem, tmp_path).read_text(encoding="utf-8") == release.render(p)
