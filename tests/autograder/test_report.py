"""The class report (``python -m autograder report``): what the class got wrong, on one page.

* Unit (no kernel): a synthetic results file (two chapters, every kind of row status, check
  messages including ``<script>``) -> the numbers (pass rates, messages ranked by frequency,
  students to review) and the page (one figure per chart, everything escaped, self-contained).
* ``ScoreCells`` records each failing cell's ``message`` (unit, no kernel).
* Browser: the page in Debian's headless Chromium, every chart loaded and not blank.
* End to end: the tiny fixture chapter graded by the real ``python -m autograder grade`` (full
  marks, blank, a wrong answer whose visible check fails), then ``report`` on its CSV.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import os
import re
from pathlib import Path

import cases
import nbformat
import pytest
from conftest import CELL_TIMEOUT, FIXTURE_SOURCE, NOTEBOOK_TIMEOUT, run_autograder
from nbformat.v4 import new_code_cell, new_notebook, new_output
from servers import require_server

from autograder.hidden_tests import split
from autograder.preprocessors import ScoreCells
from autograder.report import build, load_rows, render, write_report
from autograder.results import write_results

XSS = "<script>alert(1)</script>"
EVIL_ID = '<img src=x onerror="alert(2)">'
SHAPE = "❌ 输出的形状应该是 (2, 3)，你的是 (3, 2)：是不是忘了转置？"
HIDDEN = "n: expected 1, got 2"
FLAG = "flagged: cell 3 (ch01_a1_test): exec"


def _cell(gid: str, points: float, status: str, message: str = "") -> dict:
    score = points if status == "passed" else 0.0
    return {"grade_id": gid, "score": score, "max_score": points, "status": status,
            "message": message}  # fmt: skip


def _row(sid: str, notebook: str, status: str, cells: list[dict], message: str = "") -> dict:
    return {
        "student_id": sid,
        "notebook": notebook,
        "score": sum(c["score"] for c in cells),
        "max_score": sum(c["max_score"] for c in cells),
        "status": status,
        "message": message,
        "sandbox": "on",
        "cells": cells,
    }


def _alpha(a1: tuple, a2: tuple) -> list[dict]:
    return [_cell("ch01_a1_test", 2, *a1), _cell("ch01_a2_test", 1, *a2)]


CLASS = [
    _row("s1", "01_alpha", "ok", _alpha(("passed",), ("passed",))),
    _row("s2", "01_alpha", "ok", _alpha(("failed", SHAPE), ("passed",))),
    _row("s3", "01_alpha", "ok", _alpha(("failed", SHAPE), ("hidden_failed", HIDDEN))),
    _row("s4", "01_alpha", "flagged", _alpha(("failed", XSS), ("passed",)), FLAG),
    _row("s5", "01_alpha", "missing", _alpha(("missing",), ("missing",)), "nothing handed in"),
    _row("s6", "01_alpha", "timeout", _alpha(("passed",), ("not_run",)), "cell 7 timed out"),
    _row(EVIL_ID, "01_alpha", "error", _alpha(("not_run",), ("not_run",)), "broken JSON"),
    _row("s1", "02_beta", "ok", [_cell("ch02_b1_test", 1, "passed")]),
    _row("s2", "02_beta", "ok", [_cell("ch02_b1_test", 1, "failed", SHAPE)]),
    _row("s3", "02_beta", "memory_limit", [_cell("ch02_b1_test", 1, "not_run")], "cell 4"),
    _row("s4", "02_beta", "disk_full", [_cell("ch02_b1_test", 1, "not_run")], "cell 5"),
    _row("s7", "<b>evil</b>", "unknown_notebook", []),
]
N_CHARTS = 1 + 2 * 2  # the overview, then a histogram and a pass-rate chart per chapter


@pytest.fixture
def class_csv(tmp_path) -> Path:
    """The synthetic class as ``grade`` would write it (CSV and JSON)."""
    csv_path = tmp_path / "grades.csv"
    write_results(csv_path, CLASS)
    return csv_path


def _section(page: str, notebook: str) -> str:
    start = page.index(f"<h2>{notebook}</h2>")
    end = page.find('<section class="chapter"', start)
    return page[start : end if end > 0 else len(page)]


def _review(section: str) -> dict[str, list[str]]:
    """``{row status: [student ids shown]}`` of a chapter's "Submissions to look at"."""
    found = {}
    for status, items in re.findall(
        r'data-status="([a-z_]+)".*?<ul class="students">(.*?)</ul>', section, flags=re.S
    ):
        found[status] = re.findall(r"<li><b>(.*?)</b>", items)
    return found


# --- unit: the numbers and the page --------------------------------------------------------------


def test_report_numbers(class_csv):
    """Per chapter: scores of the submissions handed in, pass rates and status counts per grade
    cell in notebook order, messages most frequent first with who wrote them, rows to review."""
    report = build(load_rows(class_csv))
    assert [c.notebook for c in report.chapters] == ["01_alpha", "02_beta"]
    assert report.unknown == [("s7", "<b>evil</b>", "")]
    alpha, beta = report.chapters
    assert alpha.max_score == 3 and sorted(alpha.scores) == [0, 0, 1, 1, 2, 3]  # s5 missing
    a1, a2 = alpha.exercises
    assert (a1.grade_id, a2.grade_id) == ("ch01_a1_test", "ch01_a2_test")
    assert a1.counts == {"passed": 2, "failed": 3, "not_run": 1}
    assert a1.pass_rate == pytest.approx(2 / 6)
    assert a1.messages == [(SHAPE, ["s2", "s3"]), (XSS, ["s4"])]
    assert a2.messages == [(HIDDEN, ["s3"])]
    assert alpha.review == {
        "timeout": [("s6", "cell 7 timed out")],
        "error": [(EVIL_ID, "broken JSON")],
        "flagged": [("s4", FLAG)],
        "missing": [("s5", "nothing handed in")],
    }
    assert beta.review == {"memory_limit": [("s3", "cell 4")], "disk_full": [("s4", "cell 5")]}
    assert beta.exercises[0].messages == [(SHAPE, ["s2"])]
    # the JSON (or the CSV next to it) both work
    assert load_rows(class_csv.with_suffix(".json")) == load_rows(class_csv)


def test_report_page(class_csv):
    """One figure per chart (embedded PNGs), messages ranked by frequency, the students to review
    per chapter, every student-supplied string escaped, nothing fetched from elsewhere."""
    page = render(build(load_rows(class_csv), source="grades.csv"))
    figures = re.findall(r"<figure[^>]*>.*?</figure>", page, flags=re.S)
    assert len(figures) == N_CHARTS
    for fig in figures:
        (src,) = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', fig)
        assert base64.b64decode(src).startswith(b"\x89PNG\r\n\x1a\n")
    # escaped, never live
    assert "<script" not in page.lower() and "<img src=x" not in page and "<b>evil" not in page
    assert html_escaped(XSS) in page and html_escaped(EVIL_ID) in page
    assert html_escaped("<b>evil</b>") in page
    # self-contained: no link, script or stylesheet from elsewhere
    assert not re.search(r"(src|href)=\"(?!data:|#)", page), "the page refers to another file"
    assert "http://" not in page and "https://" not in page
    alpha = _section(page, "01_alpha")
    assert alpha.index(SHAPE) < alpha.index(html_escaped(XSS))  # 2 students before 1
    assert alpha.index("ch01_a1_test") < alpha.index("ch01_a2_test") < alpha.index(HIDDEN)
    assert _review(alpha) == {
        "timeout": ["s6"],
        "error": [html_escaped(EVIL_ID)],
        "flagged": ["s4"],
        "missing": ["s5"],
    }
    assert html_escaped(FLAG) in alpha
    assert _review(_section(page, "02_beta")) == {"memory_limit": ["s3"], "disk_full": ["s4"]}


def test_report_edge_cases():
    """A chapter nobody handed in, cells without a ``message`` (results written before it was
    recorded), fractional points and no rows at all still give a full page."""
    old = _row("s1", "03_gamma", "ok", [_cell("ch03_c1_test", 0.5, "failed")])
    del old["cells"][0]["message"]
    rows = [
        old,
        _row("s2", "03_gamma", "ok", [_cell("ch03_c1_test", 0.5, "passed")]),
        _row("s1", "04_delta", "missing", [_cell("ch04_d1_test", 1, "missing")]),
    ]
    report = build(rows)
    gamma, delta = report.chapters
    assert gamma.exercises[0].messages == [] and gamma.scores == [0.0, 0.5]
    assert delta.scores == [] and delta.exercises[0].pass_rate is None
    page = render(report)
    assert page.count("<figure") == 1 + 2 * 2
    assert "No messages recorded for the failing cells" in page
    assert render(build([])).count("<figure") == 1


def html_escaped(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_report_command(class_csv, tmp_path):
    """`python -m autograder report` writes the page (next to the CSV by default) and refuses a
    missing results file or an --out that would overwrite the results."""
    proc = run_autograder("report", str(class_csv), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "8 students, 2 chapters" in proc.stdout
    assert (tmp_path / "grades.html").read_text(encoding="utf-8").count("<figure") == N_CHARTS
    proc = run_autograder("report", str(tmp_path / "none.csv"), timeout=300)
    assert proc.returncode == 2 and "none.json not found" in proc.stderr
    with pytest.raises(Exception, match="overwrite the results"):
        write_report(class_csv, class_csv.with_suffix(".json"))


# --- ScoreCells records why a cell failed ------------------------------------------------------


def test_score_cells_records_the_message():
    """failed: the first line of the check's error (clipped; its name when it has no text);
    hidden_failed / constraint_failed: the grader's detail; passed / not_run: empty."""
    grade = {"grade": True, "locked": True, "points": 1, "solution": False}
    answer = {"grade": False, "grade_id": "a", "locked": False, "solution": True}
    nb = new_notebook(
        cells=[
            new_code_cell("def f(x):\n    return x", metadata={"nbgrader": answer}),
            *(
                new_code_cell("pass", metadata={"nbgrader": dict(grade, grade_id=g)})
                for g in ("g_ok", "g_check", "g_bare", "g_long", "g_hidden", "g_skip")
            ),
        ]
    )
    source_nb = copy.deepcopy(nb)
    errors = {
        "g_check": ("CheckFailed", f"{SHAPE}\n第二行不要"),
        "g_bare": ("AssertionError", ""),
        "g_long": ("CheckFailed", "x" * 500),
    }
    for cell in nb.cells[1:]:
        gid = cell.metadata.nbgrader["grade_id"]
        if gid in errors:
            ename, evalue = errors[gid]
            cell.outputs = [new_output("error", ename=ename, evalue=evalue, traceback=[])]
    spec = {"value": 1.0, "atol": 0.0, "rtol": 0.0, "cmp": "close"}
    gids = ("g_ok", "g_check", "g_bare", "g_long", "g_hidden")
    state = {
        "executed_grade_ids": set(gids),
        "probes": {
            "g_ok": {"probed": {"n": 1.0}, "errors": {}},
            "g_hidden": {"probed": {"n": 2.0}, "errors": {}},
        },
        "expected": {g: {"n": spec} for g in gids},
        "hidden_blocks": {g: split('probe("n", 1)\nexpect("n", 1.0)') for g in gids},
        "source_nb": source_nb,
    }
    _, resources = ScoreCells().preprocess(nb, {"autograder": state})
    cells = {c["grade_id"]: (c["status"], c["message"]) for c in resources["autograder"]["cells"]}
    assert cells["g_ok"] == ("passed", "")
    assert cells["g_check"] == ("failed", SHAPE)
    assert cells["g_bare"] == ("failed", "AssertionError")
    assert cells["g_long"] == ("failed", "x" * 200)
    assert cells["g_hidden"][0] == "hidden_failed" and cells["g_hidden"][1].startswith("n: ")
    assert cells["g_skip"] == ("not_run", "")


# --- the page in a real browser ----------------------------------------------------------------

CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))


@pytest.mark.timeout(300)
def test_report_in_chromium(class_csv):
    """In headless Chromium, does every chart image load (naturalWidth > 0) and draw something
    (many colours in its screenshot), with no request leaving the page?"""
    from PIL import Image

    out, _ = write_report(class_csv)
    if not CHROMIUM.exists():
        require_server(f"{CHROMIUM} missing: `make install` installs Debian's chromium")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_server("playwright is not installed (the dev extra installs it)")
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
        except PlaywrightError as exc:
            require_server(f"Chromium does not start here: {str(exc)[:300]}")
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(out.resolve().as_uri(), wait_until="load")
            figures = page.locator("figure.chart")
            assert figures.count() == N_CHARTS
            for i in range(N_CHARTS):
                figure = figures.nth(i)
                img = figure.locator("img")
                loaded = img.evaluate("i => i.complete && i.naturalWidth > 0 && i.naturalHeight")
                assert loaded, f"chart {i} did not load"
                # the chart alone: the caption's text would add colours to a blank image
                shot = Image.open(io.BytesIO(img.screenshot())).convert("RGB")
                colours = len(shot.getcolors(maxcolors=1 << 24) or [])
                assert colours > 20, f"chart {i} looks blank ({colours} colours)"
            assert page.locator("script").count() == 0
            assert "<script>alert(1)</script>" in page.inner_text("body")  # shown as text
            others = [u for u in requests if not u.startswith(("file:", "data:"))]
            assert not others, others
        finally:
            browser.close()


# --- end to end: grade, then report ------------------------------------------------------------

WRONG_DOUBLE = "def double(x):\n    return tf.constant(5.0)"
VISIBLE_MESSAGE = "double(3.0) 应该是 6.0"  # the fixture's visible check


@pytest.mark.timeout(900)
def test_grade_then_report(tmp_path, release):
    """Graded by the real `grade`, does the report show the wrong answer's check message, with
    the student who made the mistake, and the per-cell JSON hold it?"""
    source = nbformat.read(str(FIXTURE_SOURCE / "90_tiny.ipynb"), as_version=4)
    blank = nbformat.reads(release.render(FIXTURE_SOURCE / "90_tiny.ipynb"), as_version=4)
    wrong = nbformat.reads(release.render(FIXTURE_SOURCE / "90_tiny.ipynb"), as_version=4)
    for cell, src in zip(wrong.cells, source.cells):
        if cases.nbg(cell).get("grade_id") == "ch90_double":
            cell.source = WRONG_DOUBLE
        elif cases.nbg(cell).get("solution"):
            cell.source = src.source
    subs = tmp_path / "subs"
    cases.write(source, subs / "full" / "90_tiny.ipynb")
    cases.write(blank, subs / "blank" / "90_tiny.ipynb")
    cases.write(wrong, subs / "wrong" / "90_tiny.ipynb")
    csv_path = tmp_path / "grades.csv"
    proc = run_autograder(
        "grade", str(subs), "--out", str(csv_path), "--source", str(FIXTURE_SOURCE),
        "--workers", "2", "--no-progress", "--db", "none",
        "--cell-timeout", str(CELL_TIMEOUT), "--timeout", str(NOTEBOOK_TIMEOUT),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(csv_path.with_suffix(".json").read_text(encoding="utf-8"))
    cells = {
        r["student_id"]: {c["grade_id"]: (c["status"], c["message"]) for c in r["cells"]}
        for r in doc["results"]
    }
    assert cells["full"] == {"ch90_double_test": ("passed", ""), "ch90_size_test": ("passed", "")}
    assert cells["wrong"]["ch90_double_test"] == ("failed", VISIBLE_MESSAGE)
    assert cells["blank"]["ch90_double_test"] == ("failed", "NotImplementedError")

    out = tmp_path / "class.html"
    proc = run_autograder("report", str(csv_path), "--out", str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = out.read_text(encoding="utf-8")
    rows = re.findall(r'<td class="msg">(.*?)</td>.*?<td class="ids">(.*?)</td>', page, re.S)
    assert (VISIBLE_MESSAGE, "wrong") in rows, rows
    assert page.count("<figure") == 1 + 2
