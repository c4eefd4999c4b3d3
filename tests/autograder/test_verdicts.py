"""Verdicts a student cannot forge or read, through the real ``python -m autograder`` commands.

One module-scoped run: ``release`` and ``check`` of the guard fixture chapter
(``attacks/verdicts/source/91_guard.ipynb``, whose grade cells use ``checks``, NumPy and
builtins like the real chapters, and whose Setup cells are read-only nbgrader cells), then one
``grade`` of a class of hostile students (``attacks/verdicts/students.py``), with time limits
calibrated from the instructor's timings that ``check`` recorded.
"""

from __future__ import annotations

import html
import json
import re
import sys
import time
from html.parser import HTMLParser

import nbformat
import pytest
from conftest import HERE, read_csv, run_autograder

from autograder.paths import CONFIG_FILE
from autograder.release import Release

ATTACKS = HERE / "attacks" / "verdicts"
SOURCE = ATTACKS / "source"
STEM = "91_guard"
sys.path.insert(0, str(ATTACKS))

import students  # noqa: E402

FLOOR = 8.0  # seconds: the calibrated limit of a fast cell in this run


@pytest.fixture(scope="module")
def guard_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("verdicts")
    started = time.monotonic()
    proc = run_autograder("release", "--source", str(SOURCE), "--out", str(root / "release"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    timings = root / "timings.json"
    check = run_autograder(
        "check",
        "--source",
        str(SOURCE),
        "--release-dir",
        str(root / "release"),
        "--timings",
        str(timings),
        "--workers",
        "2",
        "--no-progress",
    )
    subs = root / "subs"
    blank = nbformat.reads(Release().render(SOURCE / f"{STEM}.ipynb"), as_version=4)
    students.write_class(subs, blank)
    (subs / "instructor").mkdir()
    (subs / "instructor" / f"{STEM}.ipynb").write_bytes((SOURCE / f"{STEM}.ipynb").read_bytes())
    config = root / "config.py"
    config.write_text(
        CONFIG_FILE.read_text(encoding="utf-8") + f"\nc.ExecuteGraded.timing_floor = {FLOOR}\n",
        encoding="utf-8",
    )
    out, feedback = root / "grades.csv", root / "feedback"
    grade = run_autograder(
        "--config",
        str(config),
        "grade",
        str(subs),
        "--out",
        str(out),
        "--feedback",
        str(feedback),
        "--source",
        str(SOURCE),
        "--timings",
        str(timings),
        "--workers",
        "2",
        "--no-progress",
        "--db",
        "none",
    )
    assert grade.returncode == 0, grade.stderr[-3000:]
    return {
        "check": check,
        "timings": timings,
        "grade": grade,
        "rows": {k[0]: r for k, r in read_csv(out).items()},
        "feedback": feedback,
        "wall": time.monotonic() - started,
    }


def _report(run, student: str) -> str:
    return (run["feedback"] / student / f"{STEM}.html").read_text(encoding="utf-8")


def _text(raw: str) -> str:
    raw = re.sub(r"<style.*?</style>", "", raw, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


def test_check_passes_and_records_the_instructor_timings(guard_run):
    """Does `check` give the instructor copy full marks, the blank 0, and write every cell's time?"""
    check = guard_run["check"]
    assert check.returncode == 0, check.stdout + check.stderr[-2000:]
    assert re.search(rf"^{STEM}\s+3/3\s+0/3\s+ok$", check.stdout, flags=re.M), check.stdout
    chapter = json.loads(guard_run["timings"].read_text(encoding="utf-8"))["chapters"][STEM]
    for key in ("ch91_scale", "ch91_scale_test", "ch91_scale_test#hidden", "ch91_total_test"):
        assert 0 <= chapter["cells"][key] < 60, chapter
    assert chapter["total"] >= chapter["cells"]["ch91_scale_test"] and chapter["fingerprint"]


def test_instructor_copy_gets_full_marks_and_no_flag(guard_run):
    row = guard_run["rows"]["instructor"]
    assert (row["status"], row["score"], row["message"]) == ("ok", "3", ""), row


@pytest.mark.parametrize(
    ("student", "techniques"),
    [
        ("blank_transformer", ["input_transformers_post"]),
        ("swallow_ast", ["ast_transformers"]),
        ("monkeypatch", ["monkeypatching checks.check_close", "np.allclose", "__code__"]),
        ("shadow_builtins", ["builtins", "monkeypatching builtins.isinstance"]),
        ("silent_errors", ["set_custom_exc", "showtraceback", "sys.settrace", "events.register"]),
        ("fake_checks", ["rebinding checks"]),
    ],
)
def test_a_trick_on_a_blank_answer_scores_zero_and_is_flagged(guard_run, student, techniques):
    """Does each trick leave a wrong answer at 0, and does the row name the cell and technique?"""
    row = guard_run["rows"][student]
    assert (row["score"], row["status"]) == ("0", "flagged"), row
    assert re.match(r"flagged: cell \d+ \(", row["message"]), row
    for technique in techniques:
        assert technique in row["message"], row


def test_setup_cells_are_restored_from_the_instructor_copy(guard_run):
    """Is a Setup cell the student rewrote (a fake `checks`) graded as the instructor wrote it?"""
    row = guard_run["rows"]["fake_checks"]
    assert "read-only cell ch91_setup restored (source changed)" in row["message"], row
    assert "setup done" not in _report(guard_run, "fake_checks")


def test_expected_values_never_reach_the_kernel(guard_run):
    """A pre_run_cell hook, a linecache spy thread with update_display, an audit hook on every
    compile and a last cell printing IPython's caches see what the kernel ran: the probes, never
    the expects, the reference code or the expected values (and the honest answers keep full
    marks)."""
    for student in ("leak", "audit_spy"):
        row = guard_run["rows"][student]
        assert (row["score"], row["status"]) == ("3", "flagged"), row
        text = _text(_report(guard_run, student))
        for secret in (
            "SECRET_GUARD_MARKER",
            'expect("scaled"',
            'expect("sum"',
            "np.asarray(hidden_x) * 2.5",
            "sum(hidden_xs)",
        ):
            assert secret not in text, (student, secret)
    assert "RAW CELL:" in _text(_report(guard_run, "leak"))  # the spies ran and printed
    seen = _text(_report(guard_run, "audit_spy"))
    assert "SEEN:" in seen and 'probe("scaled"' in seen  # the probes did reach the kernel


@pytest.mark.parametrize(
    ("student", "techniques"),
    [
        ("forge_take", ["monkeypatching grading._take"]),
        ("fake_execute", ["kernel internals"]),
        ("thread_forger", []),
        ("fake_module", ["sys.modules", "getattr with a computed name", "encoded strings"]),
    ],
)
def test_what_the_kernel_claims_decides_nothing(guard_run, student, techniques):
    """Issue 16: forged probe values (a patched collector, a thread rewriting them, a fake grading
    module), or a kernel that answers `ok` to everything without running it: a blank answer
    still scores 0, because the grader compares the claims with values the kernel never saw."""
    row = guard_run["rows"][student]
    assert row["score"] == "0", row
    for technique in techniques:
        assert technique in row["message"], row


def test_probes_run_right_after_their_grade_cell(guard_run):
    """A later redefinition of the answer does not change a grade cell's result."""
    row = guard_run["rows"]["reports"]
    assert row["score"] == "3", row


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.bad, self._script = [], False

    def handle_starttag(self, tag, attrs):
        self._script = tag == "script"
        for name, value in attrs:
            if name.startswith("on") and "xss" in (value or ""):
                self.bad.append((tag, name, value))
            if name in ("href", "src") and (value or "").lower().startswith("javascript:"):
                self.bad.append((tag, name, value))

    def handle_data(self, data):
        if self._script and "xss" in data:
            self.bad.append(("script", data[:80]))

    def handle_endtag(self, tag):
        self._script = False


def test_reports_are_capped_and_sanitised(guard_run):
    """update_display with 5 MB is capped; student <script>, onerror, javascript: links, Javascript
    outputs are inert in the report."""
    raw = _report(guard_run, "reports")
    assert len(raw) < 1_000_000 and "A" * 10_000 not in raw
    assert "输出过长，已截断 (output truncated)" in _text(raw)
    parser = _Tags()
    parser.feed(raw)
    assert not parser.bad, parser.bad[:5]


def test_magics_are_flagged_and_the_summary_lists_flagged_students(guard_run):
    row = guard_run["rows"]["reports"]
    assert row["status"] == "flagged" and "%pip magic" in row["message"], row
    assert "shell escape (!)" in row["message"], row
    summary = guard_run["grade"].stdout
    assert "Flagged for review" in summary
    for student, r in guard_run["rows"].items():
        assert (f"  {student}/{STEM}: flagged" in summary) == (r["status"] == "flagged"), summary


def test_a_loop_costs_seconds_with_calibrated_limits(guard_run):
    """The answer loops forever: stopped at the calibrated limit (the floor), not 600 s; the
    CSV names the rule, not a number measured on this machine."""
    row = guard_run["rows"]["loop"]
    assert (row["status"], row["score"]) == ("timeout", "1"), row
    rule = f"calibrated: 10x the instructor's time, at least {FLOOR:g} s"
    assert f"exceeded its time limit ({rule})" in row["message"], row
