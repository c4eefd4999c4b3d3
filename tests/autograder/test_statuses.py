"""Statuses are defined once (autograder/statuses.py): the README's tables are generated from
the enums, and the grader reports no status the enums do not define."""

from __future__ import annotations

import re

from autograder.paths import PACKAGE
from autograder.statuses import CellStatus, RowStatus, markdown_table


def test_readme_tables_are_the_enums():
    readme = (PACKAGE / "README.md").read_text(encoding="utf-8")
    assert markdown_table(RowStatus) in readme
    assert markdown_table(CellStatus) in readme


def test_the_code_uses_no_status_the_enums_lack():
    """Every quoted status the grading code assigns is one of the enums' values."""
    known = {s.value for s in RowStatus} | {s.value for s in CellStatus}
    pattern = re.compile(r"""(?:status"\]\s*=|"status":|_stop\(\s*state,)\s*"([a-z_]+)\"""")
    for path in sorted(PACKAGE.rglob("*.py")):
        for status in pattern.findall(path.read_text(encoding="utf-8")):
            assert status in known, f"{path.name} uses status {status!r}"
