"""Tests of the feedback reports: one per student and notebook, never showing hidden tests."""

from __future__ import annotations

import html
import re

import nbformat
import pytest
from conftest import CHAPTERS, REPO

pytestmark = pytest.mark.skipif(not CHAPTERS, reason="no chapter notebooks yet")


def _text(path) -> str:
    """The visible text of an HTML report: tags removed (highlighting splits code into spans)."""
    raw = path.read_text(encoding="utf-8")
    raw = re.sub(r"<style.*?</style>", "", raw, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


def _hidden_lines(path) -> list[str]:
    lines = []
    for cell in nbformat.read(str(path), as_version=4).cells:
        inside = False
        for line in cell.source.split("\n"):
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) >= 12 and not line.strip().startswith("#"):
                lines.append(line.strip())
    return lines


def test_one_report_per_student_and_notebook(graded_class):
    """Is there an HTML report for every graded row, named <student_id>/<notebook>.html?"""
    for (student, notebook), row in graded_class["rows"].items():
        if row["status"] == "unknown_notebook":
            continue
        report = graded_class["feedback"] / student / f"{notebook}.html"
        assert report.exists(), report
        assert f"{float(row['score']):g} / {float(row['max_score']):g}" in _text(report)


def test_reports_never_show_hidden_tests(graded_class):
    """Is no hidden-test line of any chapter present in any report?"""
    hidden = {line for p in CHAPTERS for line in _hidden_lines(p)}
    visible = "\n".join(
        c.source.split("### BEGIN HIDDEN TESTS")[0]
        for p in CHAPTERS
        for c in nbformat.read(str(p), as_version=4).cells
    )
    # A line that also appears in course_utils (for example inside a check a traceback shows)
    # is published code, not a secret.
    published = "\n".join(
        f.read_text(encoding="utf-8") for f in (REPO / "course_utils").rglob("*.py")
    )
    hidden = {line for line in hidden if line not in visible and line not in published}
    assert hidden, "chapters should have hidden tests"
    for report in graded_class["feedback"].rglob("*.html"):
        text = _text(report)
        assert "HIDDEN TESTS" not in text, report
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{report}: {leaked[:3]}"


def test_failed_hidden_tests_are_reported_without_their_code(fixture_grades):
    """Does a report say the hidden tests failed, without their code or their message?"""
    text = _text(fixture_grades["feedback"] / "hidden_fail" / "90_tiny.html")
    assert "隐藏测试未通过 (hidden tests failed)" in text
    assert "SECRET_HIDDEN_MARKER" not in text and "double(-1.5)" not in text
    assert "Score: 1.0 / 3.0" in text or "1 / 3" in text


def test_student_html_is_sanitised(tmp_path):
    """No kernel: student markdown and outputs with <script>, onerror, javascript: links and a
    Javascript output are inert in the report; the course's own markdown keeps its formatting."""
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    from autograder.feedback import FeedbackWriter

    nb = new_notebook(
        cells=[
            new_markdown_cell(
                "## 标题 (Title)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                "<script>alert('xss-md')</script>\n\n[x](javascript:alert('xss-link'))\n\n"
                "<img src=x onerror=\"alert('xss-img')\">"
            ),
            new_code_cell(
                "x",
                outputs=[
                    new_output(
                        "display_data",
                        data={"text/html": "<b>bold</b><script>alert('xss-html')</script>"},
                    ),
                    new_output("display_data", data={"application/javascript": "alert('xss-js')"}),
                ],
            ),
        ]
    )
    row = {"notebook": "n", "student_id": "s", "score": 1, "max_score": 2, "status": "ok"}
    FeedbackWriter().write(str(tmp_path / "r.html"), nb, {}, {**row, "message": "<i>m</i>"})
    raw = (tmp_path / "r.html").read_text(encoding="utf-8")
    for payload in ("<script>alert(", 'onerror="alert', "javascript:alert", "alert('xss-js')"):
        assert payload not in raw, payload
    assert "<b>bold</b>" in raw and "<table>" in raw and "<h2" in raw
    assert "&lt;i&gt;m&lt;/i&gt;" in raw  # the banner escapes the message
