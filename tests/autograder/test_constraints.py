"""Constraint attacks through the real ``python -m autograder grade``: right numbers, wrong means.

For every chapter with an attacks file (``attacks/constraints/chNN.py``; the chapters covered
are listed in ``COVERED`` and appear in every test id), submissions are built from the
instructor notebook as a *skeleton*: its Setup cells (the locked code cells before the first
exercise), its answer cells and its grade cells, nothing else (a student may delete tutorial
cells; the grader restores Setup and grade cells anyway). Then

- ``honest``: the skeleton with the instructor's answers; every grade cell must pass, which
  also proves the skeleton is self-contained;
- in every other submission a cell right after Setup forges the kernel's visible verdict
  (every ``checks.check_*`` the grade cells call returns True, ``forge_checks``): several
  visible checks look for a built-in softmax or a foreign module themselves, and a student can
  rebind them, so only what the grader judges may decide;
- every ``ANSWERS[answer_id]`` entry (an answer that computes the right numbers but breaks one
  stated constraint) replaces that answer cell: the exercise's grade cell must score 0 with
  status ``constraint_failed`` (``hidden_failed`` or ``failed`` too where the description says
  the answer also fails by behaviour: "by behaviour", "probe fails it"), and every exercise
  left honest in that submission keeps ``passed``. Attacks on different exercises share a
  submission (at most one per exercise), except those with a lookup the grader cannot follow,
  which fail every constrained exercise of their notebook and so go alone;
- every ``DELEGATIONS[answer_id]`` entry (an answer that imports from ``course_utils`` what used
  to compute it) the same way: that exercise scores 0;
- ``delegate_all`` (``attacks/constraints/delegate_all.py``): every function answer handed to
  every callable ``course_utils`` defines; every exercise must score 0, and none may be
  ``constraint_failed`` (that status means the probed numbers matched: a leak that only a
  constraint happened to catch). Chapters whose answers all define classes have nothing to
  delegate and get no such submission (named in ``DELEGATE_ALL``).

All of it is graded in ONE ``grade --workers 2`` call; the tests read ``grades.json``. A chapter
whose notebook fails ``python -m autograder lint`` is being edited: its tests skip, naming it.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import CHAPTERS, HERE, run_autograder
from nbformat.v4 import new_code_cell

from autograder.constraints import dynamic_lookups
from autograder.hidden_tests import answer_cells
from autograder.lint import lint_notebook
from autograder.sandbox import Sandbox, SandboxError

ATTACKS = HERE / "attacks" / "constraints"
sys.path.insert(0, str(ATTACKS))

import delegate_all  # noqa: E402

#: Words in an attack's description saying it also fails by behaviour, not only by its source.
BEHAVIOUR = re.compile(r"by behaviour|probe fails it", re.I)
CONSTRAINT_ONLY = {"constraint_failed"}
ALSO_BEHAVIOUR = {"constraint_failed", "hidden_failed", "failed"}
#: What a delegate_all exercise may get: wrong numbers (never constraint_failed: right numbers).
DELEGATE_ALL_OK = {"failed", "hidden_failed"}


def _tag(path: Path) -> str:
    return f"ch{path.stem[:2]}"


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"constraint_attacks_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


NOTEBOOKS = {_tag(p): p for p in CHAPTERS}
MODULES = {p.stem: _load(p) for p in sorted(ATTACKS.glob("ch*.py"))}
#: Chapters covered: a notebook and an attacks file.
COVERED = sorted(tag for tag in NOTEBOOKS if tag in MODULES)

# The module's one grade call (every chapter's attacks, ten chapters) runs in the first test's
# setup; pytest-timeout counts it there, so the module gets a limit that covers it on a busy
# 2-core machine. A hang still ends; nothing here depends on speed.
pytestmark = pytest.mark.timeout(3600)
SOURCES = {tag: nbformat.read(str(NOTEBOOKS[tag]), as_version=4) for tag in COVERED}


def _attacks(tag: str) -> list[dict]:
    """Every attack of a chapter: ``{tag, answer, kind, index, what, source}``."""
    module = MODULES[tag]
    found = []
    for answer, entries in getattr(module, "ANSWERS", {}).items():
        for i, (what, source) in enumerate(entries):
            found.append(
                dict(tag=tag, answer=answer, kind="answer", index=i, what=what, source=source)
            )
    for answer, source in getattr(module, "DELEGATIONS", {}).items():
        found.append(
            dict(
                tag=tag,
                answer=answer,
                kind="delegation",
                index=0,
                what="delegates to course_utils",
                source=source,
            )
        )
    return found


def _isolated(source: str) -> bool:
    try:
        return bool(dynamic_lookups(ast.parse(source), {}))
    except SyntaxError:
        return False


def _plan(tag: str) -> dict[str, list[dict]]:
    """``{student_id: [attacks]}``: at most one attack per exercise in each submission."""
    plan: dict[str, list[dict]] = {}
    shared: list[list[dict]] = []
    alone = 0
    for attack in _attacks(tag):
        if _isolated(attack["source"]):
            plan[f"{tag}-alone{alone}"] = [attack]
            alone += 1
            continue
        for group in shared:
            if all(a["answer"] != attack["answer"] for a in group):
                group.append(attack)
                break
        else:
            shared.append([attack])
    for k, group in enumerate(shared):
        plan[f"{tag}-attack{k}"] = group
    for student, group in plan.items():
        for attack in group:
            attack["student"] = student
    return plan


PLANS = {tag: _plan(tag) for tag in COVERED}
ALL_ATTACKS = [a for tag in COVERED for group in PLANS[tag].values() for a in group]
ANSWER_ATTACKS = [a for a in ALL_ATTACKS if a["kind"] == "answer"]
DELEGATION_ATTACKS = [a for a in ALL_ATTACKS if a["kind"] == "delegation"]


def _delegates(tag: str) -> bool:
    nb = SOURCES[tag]
    return any(
        delegate_all.delegates(c.source)
        for c in nb.cells
        if c.cell_type == "code" and _nbg(c).get("solution")
    )


#: Chapters that get a delegate_all submission (some answer defines a function).
DELEGATE_ALL = [tag for tag in COVERED if _delegates(tag)]


def _id(attack: dict) -> str:
    suffix = "delegation" if attack["kind"] == "delegation" else str(attack["index"])
    return f"{attack['answer']}-{suffix}"


def _owner(nb) -> dict[str, str]:
    """``{answer grade_id: grade cell grade_id}``: the grade cell after each answer cell."""
    return {
        _nbg(nb.cells[i])["grade_id"]: gid
        for gid, indices in answer_cells(nb).items()
        for i in indices
    }


def skeleton(nb):
    """Setup cells, answer cells and grade cells of ``nb``; every other cell dropped."""
    out = copy.deepcopy(nb)
    first = next(
        i for i, c in enumerate(out.cells) if _nbg(c).get("grade") or _nbg(c).get("solution")
    )
    kept = []
    for i, cell in enumerate(out.cells):
        meta = _nbg(cell)
        setup = i < first and cell.cell_type == "code" and meta.get("locked")
        if setup or meta.get("grade") or meta.get("solution"):
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            kept.append(cell)
    out.cells = kept
    return out


def _setup_end(nb) -> int:
    return next(
        i for i, c in enumerate(nb.cells) if _nbg(c).get("grade") or _nbg(c).get("solution")
    )


def _replace(nb, answers: dict[str, str]):
    out = copy.deepcopy(nb)
    for cell in out.cells:
        gid = _nbg(cell).get("grade_id")
        if _nbg(cell).get("solution") and gid in answers:
            cell.source = answers.pop(gid)
    assert not answers, f"no answer cell named {sorted(answers)}"
    return out


def forge_checks(nb) -> str:
    """A cell that rebinds every ``checks.check_*`` the grade cells call to return True: the
    kernel's visible verdict forged away, so only the grader's judgement is left."""
    names = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and _nbg(cell).get("grade") and not _nbg(cell).get("solution"):
            visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
            names |= set(re.findall(r"\bchecks\.(check_\w+)", visible))
    return "\n".join(f"checks.{name} = lambda *args, **kwargs: True" for name in sorted(names))


def _with_forged_checks(nb):
    out = copy.deepcopy(nb)
    out.cells.insert(_setup_end(out), new_code_cell(forge_checks(nb), id="forged-checks"))
    return out


def _delegate_all_notebook(base, tag: str):
    out = copy.deepcopy(base)
    for cell in out.cells:
        if cell.cell_type == "code" and _nbg(cell).get("solution"):
            cell.source = delegate_all.answer(cell.source)
    out.cells.insert(
        _setup_end(out), new_code_cell(delegate_all.helper(tag), id="delegate-all-helper")
    )
    return _with_forged_checks(out)


def _bwrap_works() -> bool:
    try:
        Sandbox().probe()
    except SandboxError:
        return False
    return True


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every submission of every covered chapter, graded in one call."""
    if not COVERED:
        pytest.skip("no chapter has an attacks file in tests/autograder/attacks/constraints/")
    if not Sandbox().enabled or not _bwrap_works():
        pytest.skip("bubblewrap cannot start here (see test_sandbox.py)")
    root = tmp_path_factory.mktemp("constraints")
    subs = root / "subs"
    linted = {tag: lint_notebook(NOTEBOOKS[tag]) for tag in COVERED}
    graded_tags = [tag for tag in COVERED if not linted[tag]]
    owners = {}
    for tag in graded_tags:
        nb = SOURCES[tag]
        stem = NOTEBOOKS[tag].stem
        owners[tag] = _owner(nb)
        base = skeleton(nb)
        nbformat.write(base, str(_path(subs, f"{tag}-honest", stem)))
        for student, group in PLANS[tag].items():
            sub = _with_forged_checks(_replace(base, {a["answer"]: a["source"] for a in group}))
            nbformat.write(sub, str(_path(subs, student, stem)))
        if tag in DELEGATE_ALL:
            nbformat.write(
                _delegate_all_notebook(base, tag), str(_path(subs, f"{tag}-delegate_all", stem))
            )
    out = root / "grades.csv"
    started = time.monotonic()
    proc = None
    if graded_tags:
        proc = run_autograder(
            "grade",
            str(subs),
            "--out",
            str(out),
            "--db",
            "none",
            "--workers",
            "2",
            "--no-progress",
            "--cell-timeout",
            "300",
            "--timeout",
            "1500",
            timeout=3600,
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    wall = time.monotonic() - started
    rows = {}
    if graded_tags:
        doc = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        rows = {r["student_id"]: r for r in doc["results"]}
    print(f"\n[test_constraints] graded {len(rows)} submissions of {graded_tags} in {wall:.0f} s")
    return {"rows": rows, "owners": owners, "lint": linted, "wall": wall}


def _path(subs: Path, student: str, stem: str) -> Path:
    path = subs / student / f"{stem}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _row(graded, tag: str, student: str) -> dict:
    if graded["lint"][tag]:
        pytest.skip(
            f"{tag} ({NOTEBOOKS[tag].name}) fails `python -m autograder lint`, so it is being "
            f"edited: {graded['lint'][tag][0]}"
        )
    assert student in graded["rows"], f"{student}: no row in grades.json"
    return graded["rows"][student]


def _cells(row) -> dict[str, dict]:
    return {c["grade_id"]: c for c in row["cells"]}


def test_every_chapter_with_attacks_is_covered():
    """Does every attacks file name a chapter notebook, and every attacked answer an answer cell?"""
    assert set(MODULES) <= set(NOTEBOOKS), sorted(set(MODULES) - set(NOTEBOOKS))
    for tag in COVERED:
        owners = _owner(SOURCES[tag])
        for attack in _attacks(tag):
            assert attack["answer"] in owners, f"{tag}: {attack['answer']} is no answer cell"


@pytest.mark.parametrize("tag", COVERED)
def test_honest_skeleton_passes(graded, tag):
    """Does the skeleton with the instructor's answers pass every grade cell?"""
    row = _row(graded, tag, f"{tag}-honest")
    cells = _cells(row)
    assert cells, row
    bad = {g: c["status"] for g, c in cells.items() if c["status"] != "passed"}
    assert not bad, f"{tag}: honest skeleton ({row['status']}: {row['message']}): {bad}"
    assert float(row["score"]) == float(row["max_score"]), row


def _check_attack(graded, attack, allowed):
    tag, student = attack["tag"], attack["student"]
    row = _row(graded, tag, student)
    cells = _cells(row)
    owners = graded["owners"][tag]
    target = owners[attack["answer"]]
    cell = cells.get(target)
    assert cell is not None, f"{student}: no result for {target}: {row}"
    assert (cell["score"], cell["status"] in allowed) == (0, True), (
        f"{attack['answer']} ({attack['what']}): {target} got {cell['status']} "
        f"{cell['score']}/{cell['max_score']} (allowed: {sorted(allowed)})"
    )
    attacked = {owners[a["answer"]] for a in PLANS[tag][student]}
    others = {g: c["status"] for g, c in cells.items() if g not in attacked}
    assert all(s == "passed" for s in others.values()), (
        f"{student}: an exercise left honest did not pass: {others} ({row['message']})"
    )


@pytest.mark.parametrize("attack", ANSWER_ATTACKS, ids=_id)
def test_constraint_attack_scores_zero(graded, attack):
    """Does an answer with the right numbers but a broken constraint score 0 on its exercise?"""
    allowed = ALSO_BEHAVIOUR if BEHAVIOUR.search(attack["what"]) else CONSTRAINT_ONLY
    _check_attack(graded, attack, allowed)


@pytest.mark.parametrize("attack", DELEGATION_ATTACKS, ids=_id)
def test_delegation_to_course_utils_scores_zero(graded, attack):
    """Does an answer that delegates to what course_utils used to hold score 0?"""
    _check_attack(graded, attack, {"failed", "hidden_failed", "constraint_failed"})


@pytest.mark.parametrize("tag", DELEGATE_ALL)
def test_delegate_all_scores_nothing(graded, tag):
    """Does handing every answer to every course_utils callable score 0 on every exercise?"""
    row = _row(graded, tag, f"{tag}-delegate_all")
    cells = _cells(row)
    assert cells, row
    leaks = {
        g: f"{c['status']} {c['score']}/{c['max_score']}"
        for g, c in cells.items()
        if c["score"] != 0 or c["status"] not in DELEGATE_ALL_OK
    }
    assert not leaks, f"{tag}: course_utils computes an answer ({row['message']}): {leaks}"
