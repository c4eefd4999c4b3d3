"""Every chapter meets the course's chapter standard (notebooks/AUTHORING.md), read statically.

Chapters 03 onwards were written to it; chapters 00-02 were brought to it by their second
edition (issue 11). ``SECOND_EDITION`` lists those that are done.
"""

import re

import nbformat
import pytest
from nbexec import REPO, chapter_notebooks

SECOND_EDITION = {"00", "01", "02"}
STANDARD = [p for p in chapter_notebooks() if int(p.stem[:2]) >= 3 or p.stem[:2] in SECOND_EDITION]


def nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.stem)
def test_readme_lists_the_chapter_with_its_badge(path):
    """Does the README's chapter table name the notebook and open its student copy on Colab?"""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    row = next((ln for ln in readme.splitlines() if f"`notebooks/{path.name}`" in ln), "")
    assert row.startswith(f"| {path.stem[:2]} |"), f"no README row for {path.name}"
    assert f"autograder/release/{path.stem}/{path.stem}.ipynb" in row


@pytest.mark.parametrize("path", STANDARD, ids=lambda p: p.stem)
def test_exercises_ramp_up_and_hide_tests(path):
    """At least four graded exercises, each with hidden tests, from easy to a real design task?"""
    nb = nbformat.read(str(path), as_version=4)
    # Autograded cells (a written answer graded by hand is a markdown answer cell).
    grades = [
        c
        for c in nb.cells
        if nbgrader(c).get("grade") and not nbgrader(c).get("solution") and c.cell_type == "code"
    ]
    assert len(grades) >= 4
    for cell in grades:
        gid = nbgrader(cell)["grade_id"]
        assert gid.startswith(f"ch{path.stem[:2]}_") and gid.endswith("_test"), gid
        assert cell.source.lstrip().startswith('"""'), f"{gid}: no one-line docstring"
        assert "### BEGIN HIDDEN TESTS" in cell.source, f"{gid}: no hidden tests"
    points = [float(nbgrader(c)["points"]) for c in grades]
    assert min(points) <= 2 and max(points) >= 3, points
    # A heading per exercise, with the points its grade cell gives.
    headings = re.findall(r"^### 练习 [\d.]+ \((\d+) 分\)", markdown(nb), flags=re.M)
    assert [float(p) for p in headings] == points


@pytest.mark.parametrize("path", STANDARD, ids=lambda p: p.stem)
def test_teaching_parts_are_there(path):
    """Try-it prompts, pitfall notes, optional cells, a summary, further reading?"""
    nb = nbformat.read(str(path), as_version=4)
    text = markdown(nb)
    assert text.count("试一试") >= 3
    assert "> **常见错误 (Common pitfall)**" in text
    assert any(c.source.startswith("# 选读 (optional)") for c in nb.cells if c.cell_type == "code")
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings[-2:] == ["小结 (Summary)", "延伸阅读 (Further reading)"], headings[-3:]
    reading = text.split("## 延伸阅读 (Further reading)", 1)[1]
    assert "keras.io" in reading and "d2l" in reading


@pytest.mark.parametrize("path", STANDARD, ids=lambda p: p.stem)
def test_chapter_has_check_tests_with_forgeries(path):
    """Is there a test file for the chapter's checks that runs the forgery harness on it?"""
    tests = REPO / "tests" / f"test_checks_ch{path.stem[:2]}.py"
    assert tests.exists(), tests
    text = tests.read_text(encoding="utf-8")
    assert "HARDCODED" in text and f'assert_forgeries_fail("{path.stem}"' in text
