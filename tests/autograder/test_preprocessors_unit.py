"""Fast unit tests of the grading preprocessors: no kernel, no TensorFlow (well under a second
each). Cell repair (``RestoreCells``), the hidden-test split (``SplitHiddenTests`` and
``autograder.hidden_tests``), judging probed values in the grading process (``ScoreCells``),
the collector's reply parser and the display cap (``ExecuteGraded``), and the timings file."""

from __future__ import annotations

import copy
from unittest import mock

import nbformat
import pytest
from conftest import CHAPTERS
from nbformat.v4 import new_code_cell, new_notebook, new_output
from traitlets.config import Config

from autograder.hidden_tests import HiddenTestError, split
from autograder.preprocessors import ExecuteGraded, RestoreCells, ScoreCells, SplitHiddenTests
from autograder.preprocessors import timings as timing_file
from autograder.preprocessors.execute_graded import parse_probes, probe_code
from autograder.preprocessors.output_caps import TRUNCATED
from autograder.release import Release

pytestmark = pytest.mark.skipif(not CHAPTERS, reason="no chapter notebooks yet")


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _by_gid(nb, gid):
    return next(c for c in nb.cells if _meta(c).get("grade_id") == gid)


@pytest.fixture(scope="module")
def chapter():
    source = nbformat.read(str(CHAPTERS[0]), as_version=4)
    blank = nbformat.reads(Release().render(CHAPTERS[0]), as_version=4)
    return source, blank


def _restore(nb, source, config=None):
    resources = {"autograder": {"source_nb": source, "notes": []}}
    nb, resources = RestoreCells(config=config or Config()).preprocess(copy.deepcopy(nb), resources)
    return nb, resources["autograder"]


# --- SplitHiddenTests ----------------------------------------------------------------------
def test_split_keeps_the_visible_part_and_dedents_hidden_blocks():
    split = SplitHiddenTests()
    source = "a = 1\n### BEGIN HIDDEN TESTS\n    assert a == 1\n### END HIDDEN TESTS\nb = 2"
    assert split.split(source) == ("a = 1\nb = 2", "assert a == 1")


@pytest.mark.parametrize(
    "source",
    [
        "### BEGIN HIDDEN TESTS\nx\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS",
        "x\n### END HIDDEN TESTS",
        "### BEGIN HIDDEN TESTS\nx",
    ],
)
def test_split_rejects_malformed_regions(source):
    with pytest.raises(ValueError, match="HIDDEN TESTS"):
        SplitHiddenTests().split(source)


def test_one_delimiter_setting_drives_release_split_and_restore(chapter, tmp_path):
    """c.ClearHiddenTests.begin/end_test_delimeter (nbgrader's own setting) is what the student
    copy, the split and RestoreCells all use: nothing is hard-coded."""
    source, _ = chapter
    source = copy.deepcopy(source)
    for cell in source.cells:
        cell.source = cell.source.replace("BEGIN HIDDEN TESTS", "BEGIN SECRET").replace(
            "END HIDDEN TESTS", "END SECRET"
        )
    config = Config()
    config.ClearHiddenTests.begin_test_delimeter = "BEGIN SECRET"
    config.ClearHiddenTests.end_test_delimeter = "END SECRET"
    split = SplitHiddenTests(config=config)
    gid = next(_meta(c)["grade_id"] for c in source.cells if _meta(c).get("grade"))
    visible, hidden = split.split(_by_gid(source, gid).source)
    assert hidden and "SECRET" not in visible
    release = Release(config=config)
    tmp = tmp_path / CHAPTERS[0].name
    tmp.write_text(nbformat.writes(source), encoding="utf-8")
    blank = nbformat.reads(release.render(tmp), as_version=4)
    assert "SECRET" not in _by_gid(blank, gid).source
    _, state = _restore(blank, source, config)
    assert not [n for n in state["notes"] if "restored" in n], state["notes"]
    # and with the stock delimiters, the same untouched copy would look edited
    _, stock = _restore(blank, source)
    assert [n for n in stock["notes"] if f"grade cell {gid} restored (source" in n]


# --- RestoreCells ----------------------------------------------------------------------------
def test_setup_cells_are_read_only_and_restored(chapter):
    """The two Setup cells carry locked nbgrader metadata; an edited or deleted one comes back."""
    source, blank = chapter
    stem = CHAPTERS[0].stem[:2]
    for gid in (f"ch{stem}_setup_colab", f"ch{stem}_setup"):
        meta = _meta(_by_gid(source, gid))
        assert meta["locked"] and not meta["grade"] and not meta["solution"], meta
    nb = copy.deepcopy(blank)
    _by_gid(nb, f"ch{stem}_setup").source = "checks = None"
    nb.cells.remove(_by_gid(nb, f"ch{stem}_setup_colab"))
    nb, state = _restore(nb, source)
    assert _by_gid(nb, f"ch{stem}_setup").source == _by_gid(source, f"ch{stem}_setup").source
    assert _by_gid(nb, f"ch{stem}_setup_colab").source.endswith(
        _by_gid(source, f"ch{stem}_setup_colab").source
    )
    assert f"read-only cell ch{stem}_setup restored (source changed)" in state["notes"]
    assert f"grade cell ch{stem}_setup_colab was missing and was re-inserted" in state["notes"]


def test_repairs_of_grade_cells(chapter):
    source, blank = chapter
    nb = copy.deepcopy(blank)
    grades = [c for c in nb.cells if _meta(c).get("grade") and not _meta(c).get("solution")]
    first, second = grades[0], grades[1]
    gid1, gid2 = _meta(first)["grade_id"], _meta(second)["grade_id"]
    first.source = "pass"
    second.metadata.nbgrader["points"] = 100
    second.cell_type = "markdown"
    paste = copy.deepcopy(first)
    paste["id"] = "pasted"
    nb.cells.append(paste)
    nb.cells.append(
        new_code_cell("print(1)", metadata={"nbgrader": {"grade": True, "grade_id": "bonus"}})
    )
    restored, state = _restore(nb, source)
    visible = SplitHiddenTests().visible
    assert _by_gid(restored, gid1).source == _by_gid(source, gid1).source
    assert _by_gid(restored, gid2).cell_type == "code"
    assert float(_meta(_by_gid(restored, gid2))["points"]) < 100
    assert visible(_by_gid(source, gid2).source) != _by_gid(source, gid2).source
    notes = "; ".join(state["notes"])
    assert f"1 extra copy of grade cell {gid1} ignored" in notes
    assert "ignored grading metadata of a cell claiming unknown id 'bonus'" in notes
    assert f"grade cell {gid2} restored (cell type, points changed)" in notes
    assert sum(_meta(c).get("grade_id") == gid1 for c in restored.cells) == 1


def test_restore_scans_the_student_code(chapter):
    source, blank = chapter
    nb = copy.deepcopy(blank)
    answer = next(c for c in nb.cells if _meta(c).get("solution"))
    answer.source = "get_ipython().ast_transformers.append(None)"
    _, state = _restore(nb, source)
    assert state["flags"] and "ast_transformers" in state["flags"][0], state["flags"]
    _, clean = _restore(blank, source)
    assert clean["flags"] == []


# --- ScoreCells --------------------------------------------------------------------------------
def _graded_nb(answer="def f(x):\n    return x"):
    meta = {"grade": True, "grade_id": "g1", "locked": True, "points": 2, "solution": False}
    meta2 = dict(meta, grade_id="g2", points=1)
    answer_meta = {"grade": False, "grade_id": "a1", "locked": False, "solution": True}
    return new_notebook(
        cells=[
            new_code_cell(answer, metadata={"nbgrader": answer_meta}),
            new_code_cell("pass", metadata={"nbgrader": meta}),
            new_code_cell("pass", metadata={"nbgrader": meta2}),
        ]
    )


EXPECTED = {
    "g1": {"a": {"value": [1.0, 2.0], "atol": 1e-6, "rtol": 0.0, "cmp": "close"}},
    "g2": {"n": {"value": 0.8, "atol": 0.0, "rtol": 0.0, "cmp": ">="}},
}


def _score(probes, expected=EXPECTED, executed=("g1", "g2"), constraints=(), answer=None):
    source = _graded_nb()
    blocks = {
        "g1": split(
            'probe("a", f([1, 2]))\nexpect("a", [1.0, 2.0])\n'
            + "".join(
                "constrain(" + ", ".join(f"{k}={v!r}" for k, v in c.items()) + ")\n"
                for c in constraints
            )
        ),
        "g2": split('probe("n", 1)\nexpect("n", 0.8, cmp=">=")'),
    }
    state = {
        "executed_grade_ids": set(executed),
        "probes": probes,
        "expected": expected,
        "hidden_blocks": blocks,
        "source_nb": source,
    }
    nb = _graded_nb(answer) if answer else copy.deepcopy(source)
    nb, resources = ScoreCells().preprocess(nb, {"autograder": state})
    return resources["autograder"], nb


GOOD = {
    "g1": {"probed": {"a": [1.0, 2.0]}, "errors": {}},
    "g2": {"probed": {"n": 0.9}, "errors": {}},
}


@pytest.mark.parametrize(
    ("probes", "score", "statuses"),
    [
        (GOOD, 3.0, ["passed", "passed"]),
        ({**GOOD, "g1": {"probed": {"a": [1.0, 2.5]}, "errors": {}}}, 1.0, ["hidden_failed", "passed"]),
        ({**GOOD, "g1": {"probed": {}, "errors": {"a": "NotImplementedError"}}}, 1.0,
         ["hidden_failed", "passed"]),
        ({**GOOD, "g1": {"probed": {"a": "passed"}, "errors": {}}}, 1.0, ["hidden_failed", "passed"]),
        ({**GOOD, "g2": {"probed": {"n": 0.5}, "errors": {}}}, 2.0, ["passed", "hidden_failed"]),
        ({"g2": GOOD["g2"]}, 1.0, ["hidden_failed", "passed"]),  # nothing handed back for g1
        ({**GOOD, "g1": {"probed": {"a": {"array": [1], "shape": [7], "dtype": "float"}},
                         "errors": {}}}, 1.0, ["hidden_failed", "passed"]),  # malformed
    ],
)  # fmt: skip
def test_the_grader_judges_the_probed_values(probes, score, statuses):
    """Only values that match what the reference kernel computed earn points; errors, claims
    ("passed"), missing or malformed values do not."""
    state, _ = _score(probes)
    assert state["score"] == score
    assert [c["status"] for c in state["cells"]] == statuses


def test_a_cell_that_never_ran_or_showed_an_error_scores_zero():
    state, _ = _score(GOOD, executed=("g2",))
    assert [c["status"] for c in state["cells"]] == ["not_run", "passed"]
    nb = _graded_nb()
    nb.cells[1].outputs = [new_output("error", ename="AssertionError", evalue="", traceback=[])]
    source = _graded_nb()
    st = {
        "executed_grade_ids": {"g1", "g2"},
        "probes": GOOD,
        "expected": EXPECTED,
        "hidden_blocks": {},
        "source_nb": source,
    }
    _, resources = ScoreCells().preprocess(nb, {"autograder": st})
    assert [c["status"] for c in resources["autograder"]["cells"]] == ["failed", "passed"]


def test_constraints_are_judged_on_the_source():
    rule = {"forbid": ["softmax"], "message": "no built-in softmax"}
    state, nb = _score(GOOD, constraints=[rule])
    assert [c["status"] for c in state["cells"]] == ["passed", "passed"]
    cheat = "import scipy.special\n\ndef f(x):\n    return scipy.special.softmax(x) * 0 + x"
    state, nb = _score(GOOD, constraints=[rule], answer=cheat)
    assert [c["status"] for c in state["cells"]] == ["constraint_failed", "passed"]
    shown = nb.cells[1].outputs[-1]
    assert "scipy.special.softmax" in shown["evalue"] and "no built-in softmax" in shown["evalue"]


def test_flags_make_the_row_flagged_but_keep_the_score():
    source = _graded_nb()
    state = {
        "executed_grade_ids": {"g1", "g2"},
        "probes": GOOD,
        "expected": EXPECTED,
        "hidden_blocks": {},
        "source_nb": source,
        "flags": ["cell 3 (g1_answer): ast_transformers"],
        "status": "timeout",
        "reason": "cell 9 exceeded its time limit (20 s)",
    }
    _, resources = ScoreCells().preprocess(copy.deepcopy(source), {"autograder": state})
    state = resources["autograder"]
    assert (state["status"], state["score"]) == ("flagged", 3.0)
    assert state["reason"] == (
        "flagged: cell 3 (g1_answer): ast_transformers; cell 9 exceeded its time limit (20 s)"
    )


# --- the hidden-block split and the probe run --------------------------------------------------
BLOCK = """from course_utils.grading import expect, probe
hidden_rng = np.random.default_rng(3)
hidden_x = hidden_rng.normal(size=4)
hidden_model = build_model()
fill_weights(hidden_model, 3)


def ref_f(x):
    return np.tanh(x)


probe("out", hidden_model(hidden_x))
expect("out", ref_f(hidden_x), atol=1e-5)
"""


def test_the_student_side_never_gets_an_expect_or_a_reference():
    block = split(BLOCK, {"np", "fill_weights"})
    student, reference = "\n".join(block.student), "\n".join(block.reference)
    assert "expect(" not in student and "ref_f" not in student
    assert "build_model" not in reference and "probe(" not in reference
    assert "fill_weights(hidden_model, 3)" in student  # an effect on what the probe reads
    assert "hidden_rng.normal" in student and "hidden_rng.normal" in reference
    assert block.student_keys[-1] == ["out"] and block.probes == block.expects == ["out"]


def test_decorators_go_with_their_def():
    source = (
        "@tf.custom_gradient\ndef hidden_f(t):\n    return t, lambda u: u\n\n\n"
        'probe("a", answer(hidden_f))\nexpect("a", 1.0)'
    )
    block = split(source, {"tf", "probe", "expect"})
    assert block.student[0].startswith("@tf.custom_gradient\ndef hidden_f")


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ('probe("a", f())', "every probe needs one expect"),
        ('probe("a", f())\nexpect("a", f())', "reads f, which only the student's code"),
        ('def ref_g():\n    return 1\nprobe("a", ref_g())\nexpect("a", 1)', "reference helper"),
        ("probe(k, f())\nexpect(k, 1)", "literal key"),
        ('x = 1\nprobe("a", f())\nexpect("a", 1)', "feeds no probe and no expect"),
        ('probe("a", f())\nexpect("a", 1, tolerance=2)', "no keyword 'tolerance'"),
        ('constrain(forbid="softmax" + "")\nprobe("a", f())\nexpect("a", 1)', "literal"),
    ],
)
def test_the_lint_rejects_what_could_leak_or_not_judge(source, problem):
    with pytest.raises(HiddenTestError, match=problem):
        split(source, {"probe", "expect", "constrain"})


def test_probe_code_runs_each_statement_on_its_own():
    namespace = {"__builtins__": __builtins__}
    code = probe_code(["x = 1 / 0", "y = 2"], [[], []])
    exec(compile(code, "<test>", "exec"), namespace)  # a failing statement does not stop the rest
    assert "_autograder_probes" not in namespace


@pytest.mark.parametrize(
    "reply",
    [
        None,
        {"user_expressions": {"p": {"status": "error"}}},
        {"user_expressions": {"p": {"status": "ok", "data": {"text/plain": "'not json'"}}}},
        {"user_expressions": {"p": {"status": "ok", "data": {"text/plain": "__import__('os')"}}}},
        {"user_expressions": {"p": {"status": "ok", "data": {"text/plain": repr('[1, 2]')}}}},
        {"user_expressions": {"p": {"status": "ok", "data": {"text/plain": repr(
            '{"probed": {}, "errors": {"a": 3}}')}}}},
    ],
)  # fmt: skip
def test_a_malformed_collector_reply_is_no_values(reply):
    assert parse_probes(reply) is None


def test_the_collector_reply_is_parsed_as_data():
    text = repr('{"probed": {"a": [1, 2]}, "errors": {"b": "NameError: x"}}')
    reply = {"user_expressions": {"p": {"status": "ok", "data": {"text/plain": text}}}}
    assert parse_probes(reply) == {"probed": {"a": [1, 2]}, "errors": {"b": "NameError: x"}}


# --- ExecuteGraded: the display cap, without a kernel ---------------------------------------------
def test_update_display_data_is_capped():
    ep = ExecuteGraded()
    ep.nb = new_notebook(
        cells=[new_code_cell("x", outputs=[new_output("display_data", data={"text/plain": "a"})])]
    )
    ep._display_id_map = {"d": {0: [0]}}
    ep._discarding = False
    msg = {
        "header": {"msg_type": "update_display_data"},
        "msg_type": "update_display_data",
        "content": {
            "data": {"text/html": "A" * 5_000_000, "text/plain": "big"},
            "metadata": {},
            "transient": {"display_id": "d"},
        },
    }
    ep._update_display_id("d", msg)
    data = ep.nb.cells[0].outputs[0]["data"]
    assert data == {"text/plain": "big" + TRUNCATED}
    ep._discarding = True  # while hidden tests run, nothing is taken at all
    msg["content"]["data"] = {"text/plain": "secret"}
    ep._update_display_id("d", msg)
    assert ep.nb.cells[0].outputs[0]["data"] == {"text/plain": "big" + TRUNCATED}


# --- timings -----------------------------------------------------------------------------------
def test_timings_calibrate_the_cell_limits(tmp_path, chapter):
    source, _ = chapter
    path = tmp_path / "timings.json"
    timing_file.record(path, "00_x", source, {"a_grade": 0.5, "cell-1": 4.0, "a_grade#hidden": 1})
    times = timing_file.Timings().chapter(str(path), "00_x", source)
    assert times == {"cells": {"a_grade": 0.5, "a_grade#hidden": 1.0, "cell-1": 4.0}, "total": 5.5}
    ep = ExecuteGraded(timing_multiple=10, timing_floor=20, cell_timeout=600)
    ep._override, ep._chapter_times = None, times
    graded = new_code_cell("x", metadata={"nbgrader": {"grade_id": "a_grade"}})
    assert ep._cell_limit(graded) == 20  # 10 x 0.5 s, but at least the floor
    assert ep._cell_limit(new_code_cell("x", id="cell-1")) == 40
    assert ep._cell_limit(new_code_cell("x", id="student-added")) == 40  # the slowest cell
    assert ep._cell_rule(graded) == (20, True)  # the CSV names the rule, not the number
    assert "at least 20 s" in ep._limit_text(20, True) and "20 s" == ep._limit_text(20, False)
    ep.calibrate_cells = False  # what --cell-timeout sets
    assert ep._cell_limit(graded) == 600
    edited = copy.deepcopy(source)
    next(c for c in edited.cells if c.cell_type == "code").source += "\n# edited"
    assert timing_file.Timings().chapter(str(path), "00_x", edited) is None  # out of date
    with mock.patch("autograder.version.code_version", return_value="another grader"):
        assert timing_file.Timings().chapter(str(path), "00_x", source) is None  # out of date
