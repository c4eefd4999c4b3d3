"""Progressive hints for the exercises: ``course_utils.hint("ch00_stable_softmax")``.

Each call shows the next hint level of one exercise (the earlier levels are shown again above
it, because re-running the same cell replaces its output); after the last level it says there
are no more hints and names the chapter section to re-read. Hints never contain the solution.

The hints are written by the authors next to each exercise, in the answer cell's metadata of
the instructor notebook (``metadata.course.hints``: a list of strings, at least two levels,
each more concrete than the one before). ``python -m autograder release`` collects them into
``course_utils/hints.json`` (package data), so a Colab kernel that installed ``course_utils``
can read them; a test fails when that file is out of date with the notebooks.

Hints never change a score: the grader does not look at them, and a ``course_utils.hint(...)``
call is not one of the techniques ``autograder/scan.py`` reports.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

#: The data file, inside the ``course_utils`` package.
HINTS_FILE = "hints.json"

#: Levels already shown in this kernel, per exercise id.
_shown: dict[str, int] = {}


@lru_cache(maxsize=1)
def load_hints() -> dict:
    """The hints data: ``{chapter: {grade_id: {"title", "section", "hints"}}}``, chapters and
    exercises in course order (read once from the package's ``hints.json``)."""
    text = resources.files("course_utils").joinpath(HINTS_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _exercises() -> dict[str, dict]:
    return {gid: ex for chapter in load_hints().values() for gid, ex in chapter.items()}


def _chapter_of(grade_id: str) -> str | None:
    """The chapter whose exercise ids share ``grade_id``'s prefix (``ch03`` of ``ch03_x``)."""
    prefix = grade_id.split("_", 1)[0].lower()
    for stem, exercises in load_hints().items():
        if any(gid.split("_", 1)[0].lower() == prefix for gid in exercises):
            return stem
    return None


def _unknown(grade_id: object) -> str:
    chapter = _chapter_of(grade_id) if isinstance(grade_id, str) else None
    if chapter is not None:
        ids = "\n".join(f"  {gid}" for gid in load_hints()[chapter])
        return (
            f"找不到练习 {grade_id!r} 的提示。本章 ({chapter}) 的练习 id 有：\n{ids}\n"
            '用法：course_utils.hint("练习 id")，id 就是练习答案格 (answer cell) 里那行注释中的名字。'
        )
    prefixes = ", ".join(
        sorted({gid.split("_", 1)[0] for ex in load_hints().values() for gid in ex})
    )
    return (
        f"找不到练习 {grade_id!r} 的提示。练习 id 形如 ch00_stable_softmax："
        f"以章节前缀 ({prefixes}) 开头。\n"
        '用法：course_utils.hint("练习 id")，id 就是练习答案格 (answer cell) 里那行注释中的名字。'
    )


def hint_text(grade_id: str, level: int) -> str:
    """What ``hint`` prints when showing ``level`` (1-based) of ``grade_id``: levels 1 to
    ``level``, or every level and the "no more hints" note when ``level`` is past the last."""
    exercise = _exercises()[grade_id]
    hints = exercise["hints"]
    total = len(hints)
    lines = [f"【提示】{exercise['title']}"]
    for k, text in enumerate(hints[: min(level, total)], start=1):
        lines.append(f"提示 {k}/{total}：{text}")
    if level > total:
        lines.append(
            f"没有更多提示了（共 {total} 级）。请重读本章「{exercise['section']}」一节，"
            "再对照检查格 (check cell) 的报错信息逐条修改；仍然卡住就把报错和你的思路带去问老师或助教。"
        )
    elif level < total:
        lines.append(f'还没想通？再运行一次 course_utils.hint("{grade_id}") 看下一级提示。')
    else:
        lines.append("这是最后一级提示。")
    return "\n".join(lines)


def hint(grade_id: str, level: int | None = None) -> None:
    """Print the next hint level of exercise ``grade_id`` (its answer cell's id, for example
    ``"ch00_stable_softmax"``), with the levels already shown above it.

    ``level`` shows that level (and the ones before it) instead, without moving on. After the
    last level, each call says there are no more hints and names the section to re-read. An
    unknown id prints the ids of that chapter's exercises.
    """
    key = grade_id.strip() if isinstance(grade_id, str) else grade_id
    exercises = _exercises()
    if isinstance(key, str) and key not in exercises and key.endswith("_test"):
        key = key.removesuffix("_test")  # the grade cell's id names the same exercise
    if key not in exercises:
        print(_unknown(grade_id))
        return
    total = len(exercises[key]["hints"])
    if level is None:
        level = min(_shown.get(key, 0) + 1, total + 1)
        _shown[key] = level
    else:
        level = max(1, min(int(level), total + 1))
    print(hint_text(key, level))


def reset_hints() -> None:
    """Forget which hint levels this kernel has shown (the next call starts at level 1)."""
    _shown.clear()
