"""Progressive hints (``course_utils.hint``): every exercise has them, they never give the
solution away, the shipped ``course_utils/hints.json`` matches the notebooks, every student copy
says how to ask for them, and asking changes nothing the grader looks at."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import nbformat
import pytest

import course_utils
from autograder.paths import NOTEBOOKS, RELEASE, REPO, chapters, release_path
from autograder.release import HINTS, Release, exercise_hints
from course_utils import hints as hints_module

CHAPTERS = chapters(NOTEBOOKS)
pytestmark = pytest.mark.skipif(not CHAPTERS, reason="no chapter notebooks yet")
HINT_LINE = re.compile(
    r'^# 卡住了？在新的代码格中运行 course_utils\.hint\("(?P<id>[\w]+)"\) 获得提示'
    r"（可多次运行，逐级更具体）$"
)


def _answer_cells(nb):
    """The autograded exercises' answer cells: code, nbgrader solution, not a grade cell."""
    return [
        c
        for c in nb.cells
        if c.cell_type == "code"
        and c.metadata.get("nbgrader", {}).get("solution")
        and not c.metadata["nbgrader"].get("grade")
    ]


def _solution_lines(source: str) -> list[str]:
    """The code lines between the solution markers, stripped, that are worth searching for."""
    lines, inside = [], False
    for line in source.split("\n"):
        if "### BEGIN SOLUTION" in line:
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif inside:
            text = line.strip().rstrip(",")
            if len(text) >= 10 and not text.startswith("#"):
                lines.append(text)
    return lines


EXERCISES = [
    (stem, cell.metadata["nbgrader"]["grade_id"], cell)
    for stem, path in CHAPTERS.items()
    for cell in _answer_cells(nbformat.read(str(path), as_version=4))
]
IDS = [gid for _, gid, _ in EXERCISES]


@pytest.fixture(autouse=True)
def _fresh_levels():
    course_utils.hints.reset_hints()
    yield
    course_utils.hints.reset_hints()


def test_every_chapter_has_exercises_with_hints():
    """Does every chapter have answer cells, and does hints.json cover exactly those exercises?"""
    data = hints_module.load_hints()
    assert list(data) == list(CHAPTERS)
    for stem in CHAPTERS:
        expected = [gid for s, gid, _ in EXERCISES if s == stem]
        assert expected, f"{stem}: no answer cells"
        assert list(data[stem]) == expected


@pytest.mark.parametrize(("stem", "grade_id", "cell"), EXERCISES, ids=IDS)
def test_exercise_has_progressive_chinese_hints(stem, grade_id, cell):
    """Does each answer cell carry at least two distinct, non-trivial Chinese hint levels?"""
    hints = cell.metadata.get("course", {}).get("hints")
    assert isinstance(hints, list) and len(hints) >= 2, f"{grade_id}: fewer than 2 hint levels"
    assert len(set(hints)) == len(hints), f"{grade_id}: two hint levels are the same"
    for level, text in enumerate(hints, start=1):
        assert isinstance(text, str) and len(text) >= 20, f"{grade_id} level {level}: too short"
        assert re.search(r"[\u4e00-\u9fff]", text), f"{grade_id} level {level}: not Chinese"
        assert "```" not in text and "### " not in text, f"{grade_id} level {level}: code block"


@pytest.mark.parametrize(("stem", "grade_id", "cell"), EXERCISES, ids=IDS)
def test_no_hint_contains_a_line_of_the_solution(stem, grade_id, cell):
    """Is every line of the solution (10 characters or more) absent from every hint, this
    exercise's and all others'?"""
    every_hint = [h for _, _, c in EXERCISES for h in c.metadata.get("course", {}).get("hints", [])]
    lines = _solution_lines(cell.source)
    assert lines, f"{grade_id}: no solution found"
    for line in lines:
        for text in every_hint:
            assert line not in text, f"{grade_id}: a hint quotes the solution line {line!r}"


def test_hint_walks_the_levels_then_says_there_are_no_more(capsys):
    """Does each call show the next level (with the earlier ones), then, past the last, say
    there are no more hints and name the section to re-read, on every later call too?"""
    gid = "ch00_stable_softmax"
    exercise = hints_module.load_hints()["00_tensors_autodiff"][gid]
    total = len(exercise["hints"])
    for level in range(1, total + 1):
        course_utils.hint(gid)
        out = capsys.readouterr().out
        assert exercise["title"] in out
        for k in range(1, level + 1):
            assert f"提示 {k}/{total}：{exercise['hints'][k - 1]}" in out
        assert f"提示 {level + 1}/" not in out
        assert "没有更多提示" not in out
    for _ in range(2):
        course_utils.hint(gid)
        out = capsys.readouterr().out
        assert "没有更多提示" in out and f"「{exercise['section']}」" in out
        assert exercise["section"] == "画出常用激活函数：ReLU、sigmoid 与 softmax"
    # levels are counted per exercise, and a given level re-shows without moving on
    course_utils.hint("ch00_numeric_grad")
    assert "提示 1/" in capsys.readouterr().out
    course_utils.hint("ch00_numeric_grad", level=1)
    course_utils.hint("ch00_numeric_grad")
    assert "提示 2/" in capsys.readouterr().out.split("【提示】")[-1]


def test_hint_accepts_the_grade_cell_id_and_spaces(capsys):
    """Does the check cell's id (``..._test``) or stray spaces still find the exercise?"""
    course_utils.hint(" ch01_build_mlp_test ")
    out = capsys.readouterr().out
    assert "练习 1.1：按规格搭建 MLP" in out and "提示 1/" in out


def test_unknown_id_lists_the_chapter_ids(capsys):
    """Does an unknown id of a known chapter list that chapter's ids, in Chinese?"""
    course_utils.hint("ch03_prelu")
    out = capsys.readouterr().out
    assert "找不到练习 'ch03_prelu' 的提示" in out
    for _, gid, _ in EXERCISES:
        assert (gid in out) == gid.startswith("ch03_")
    course_utils.hint("softmax")
    out = capsys.readouterr().out
    assert "找不到练习 'softmax'" in out and "ch00" in out and "ch08" in out
    course_utils.hint(3)
    assert "找不到练习 3" in capsys.readouterr().out


def test_hints_file_matches_the_notebooks():
    """Is the committed course_utils/hints.json what a release writes from the notebooks now
    (refresh: `python -m autograder release`)?"""
    assert HINTS == REPO / "course_utils" / "hints.json"
    problems = Release().hints_drift(NOTEBOOKS)
    assert not problems, "run `python -m autograder release`:\n" + "\n".join(problems)


def test_drift_reports_a_stale_hints_file(tmp_path):
    """Does the drift check name a hints file that differs from the notebooks, or is missing?"""
    stale = tmp_path / "hints.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert Release().hints_drift(NOTEBOOKS, stale) == [
        f"{stale} differs from the hints in {NOTEBOOKS}"
    ]
    assert Release().hints_drift(NOTEBOOKS, tmp_path / "missing.json") == [
        f"{tmp_path / 'missing.json'} is missing"
    ]


def test_release_to_another_folder_leaves_the_hints_file_alone(tmp_path):
    """Does only a release of the course's own notebooks into autograder/release write
    course_utils/hints.json (`--out DIR` does not)?"""
    before = HINTS.stat().st_mtime_ns
    nb = nbformat.read(str(CHAPTERS["00_tensors_autodiff"]), as_version=4)
    (tmp_path / "src").mkdir()
    nbformat.write(nb, str(tmp_path / "src" / "00_tensors_autodiff.ipynb"))
    Release().release_all(tmp_path / "src", tmp_path / "out")
    assert release_path("00_tensors_autodiff", tmp_path / "out").exists()
    assert HINTS.stat().st_mtime_ns == before
    assert Release().drift(tmp_path / "src", tmp_path / "out") == []


def test_exercise_hints_reads_title_section_and_override():
    """Does the collector take the exercise heading (points dropped), the ## section above it,
    and ``metadata.course.hint_section`` when given?"""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    answer = new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    answer.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "ch99_f"}
    answer.metadata["course"] = {"hints": ["第一级提示", "第二级提示"]}
    other = new_code_cell("pass")
    other.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "ch99_g"}
    other.metadata["course"] = {"hints": ["一", "二"], "hint_section": "另一节"}
    nb = new_notebook(
        cells=[
            new_markdown_cell("## 讲解 f 的一节\n\n正文"),
            new_markdown_cell("### 练习 9.1 (2 分)：写出 f"),
            answer,
            new_markdown_cell("### 练习 9.2 (1 分)：写出 g"),
            other,
        ]
    )
    assert exercise_hints(nb) == {
        "ch99_f": {
            "title": "练习 9.1：写出 f",
            "section": "讲解 f 的一节",
            "hints": ["第一级提示", "第二级提示"],
        },
        "ch99_g": {"title": "练习 9.2：写出 g", "section": "另一节", "hints": ["一", "二"]},
    }


@pytest.mark.parametrize("stem", list(CHAPTERS))
def test_every_answer_cell_shows_how_to_ask_for_hints(stem):
    """Does the first line of every answer cell, in the instructor notebook and in the
    committed student copy, say how to call course_utils.hint with that exercise's own id?"""
    source = nbformat.read(str(CHAPTERS[stem]), as_version=4)
    copy = nbformat.read(str(release_path(stem, RELEASE)), as_version=4)
    for nb in (source, copy):
        cells = _answer_cells(nb)
        assert cells
        for cell in cells:
            match = HINT_LINE.match(cell.source.split("\n")[0])
            assert match, f"{stem}: {cell.metadata.nbgrader['grade_id']} has no hint line"
            assert match["id"] == cell.metadata.nbgrader["grade_id"]


def test_hint_calls_are_not_flagged_and_do_not_break_constraints():
    """Is a course_utils.hint(...) call (or the hint line) no finding for autograder/scan.py,
    and does a hint call in a cell of its own leave even a "no course_utils" constraint
    (exercise 8.4) passing?"""
    from autograder.constraints import judge
    from autograder.scan import scan_source

    modules = {"course_utils", "keras", "np", "tf", "checks", "plots", "sys", "os"}
    for gid in IDS:
        assert scan_source(f'course_utils.hint("{gid}")', modules) == []
        assert scan_source(f'course_utils.hint("{gid}", level=2)', modules) == []
    ch08 = nbformat.read(str(CHAPTERS["08_saving_evaluation"]), as_version=4)
    answer = next(
        c.source
        for c in _answer_cells(ch08)
        if c.metadata.nbgrader["grade_id"] == "ch08_calibration_error"
    )
    assert scan_source(answer, modules) == []
    rules = [{"forbid": ["sklearn.*", "tensorflow.*", "keras.*", "course_utils.*"]}]
    setup = ["import keras\nimport numpy as np\nimport tensorflow as tf\nimport course_utils"]
    others = ['course_utils.hint("ch08_calibration_error")']
    assert judge(rules, answer, others, setup).ok


def test_hints_ship_as_package_data():
    """Is hints.json package data of course_utils, in this pyproject and the published one?"""
    from autograder.publish import student_pyproject

    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    for pyproject in (tomllib.loads(text), tomllib.loads(student_pyproject(text))):
        data = pyproject["tool"]["setuptools"]["package-data"]["course_utils"]
        assert "hints.json" in data
    assert (Path(course_utils.__file__).parent / "hints.json").is_file()


def test_nbstripout_keeps_the_hints_metadata(tmp_path):
    """Does the pre-commit nbstripout setting keep an answer cell's metadata.course.hints?"""
    import yaml
    from nbformat.v4 import new_code_cell, new_notebook

    cell = new_code_cell("x = 1", id="keep-me")
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "ch00_x"}
    cell.metadata["course"] = {"hints": ["一级", "二级"]}
    path = tmp_path / "n.ipynb"
    nbformat.write(new_notebook(cells=[cell]), path)
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    hook = next(h for r in config["repos"] for h in r["hooks"] if h["id"] == "nbstripout")
    subprocess.run(
        [str(REPO / ".venv/bin/nbstripout"), *hook.get("args", []), str(path)], check=True
    )
    assert nbformat.read(path, as_version=4).cells[0].metadata["course"]["hints"] == [
        "一级",
        "二级",
    ]
