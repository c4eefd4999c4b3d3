"""One vocabulary: no retired term from notebooks/GLOSSARY.md in anything a student reads."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "notebooks" / "GLOSSARY.md"
CELL_SPLIT = re.compile(r"(?<!\\)\|")


def retired_patterns() -> list[tuple[str, re.Pattern]]:
    """(label, pattern) for every row of the glossary's tables that retires something."""
    found = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in CELL_SPLIT.split(line)[1:-1]]
        if cells[0] in ("English", "What"):
            continue
        retired = cells[2] if len(cells) == 4 else cells[1]
        if retired.startswith("`") and retired.endswith("`"):
            found.append((cells[0], re.compile(retired[1:-1])))
    return found


def student_texts():
    """(where, text) for every notebook cell, every hint and every course_utils module."""
    for nb_path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            yield f"{nb_path.name} cell {i}", "".join(cell["source"])
            for j, hint in enumerate(cell.get("metadata", {}).get("course", {}).get("hints", [])):
                yield f"{nb_path.name} cell {i} hint {j + 1}", hint
    for py in sorted((ROOT / "course_utils").rglob("*.py")):
        yield str(py.relative_to(ROOT)), py.read_text(encoding="utf-8")


def test_glossary_retires_what_the_course_promised():
    labels = {label for label, _ in retired_patterns()}
    for label in (
        "accuracy",
        "GradientTape, tape",
        "BatchNormalization",
        "the authors' source material",
    ):
        assert any(label in x for x in labels), f"the glossary lost its row for {label}"


@pytest.mark.parametrize(
    "text, label",
    [
        ("测试集精度 0.91", "accuracy"),
        ("在磁带里算出的损失", "GradientTape, tape"),
        ("Keras 会自动追踪它的权重", "tracking"),
        ("批量归一化层", "BatchNormalization"),
        ("照抄教材写的代码", "the authors' source material"),
        ("图中文字按课程约定用英文", "remarks addressed to authors"),
    ],
)
def test_each_retired_variant_is_caught(text, label):
    hits = [lab for lab, pat in retired_patterns() if pat.search(text)]
    assert any(label in h for h in hits), f"{text!r} should be caught as {label}, got {hits}"


@pytest.mark.parametrize(
    "text",
    [
        "混合精度 (mixed precision) 训练",
        "float32 精度",
        "测试集准确率 0.91",
        "tf.function 第一次调用时追踪函数",
    ],
)
def test_legitimate_uses_pass(text):
    assert not [lab for lab, pat in retired_patterns() if pat.search(text)]


def test_no_retired_term_in_student_facing_text():
    patterns = retired_patterns()
    problems = [
        f"{where}: {m.group(0)!r} ({label}) in ...{text[max(0, m.start() - 20) : m.end() + 20]!r}..."
        for where, text in student_texts()
        for label, pat in patterns
        for m in pat.finditer(text)
    ]
    assert not problems, "retired terms (see notebooks/GLOSSARY.md):\n" + "\n".join(problems)
