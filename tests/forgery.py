"""Forged answers against a chapter's grade cells: what the cleverest student would try.

``assert_forgeries_fail(stem, hardcoded, cwd)`` builds one notebook from the chapter: its two
Setup cells, then for each exercise in order

- (A) every name the answer cell defines replaced by a stub: functions return an
  ``AlwaysEqual`` object (``==`` and every ordering true, truthy, arithmetic returns itself,
  ``float()`` 0.0, any attribute or call returns itself); classes become its subclasses;
  assigned names become an instance. The grade cell must fail.
- (B) the same stubs, and every ``checks.check_*`` rebound to ``lambda *a, **k: True``. The grade
  cell must still fail: hidden tests decide on plain data with their own asserts.
- (C) ``hardcoded[grade_id]``: an answer that hard-codes the visible case or ignores a stated
  constraint. The grade cell must fail.
- (D) the real answer. The grade cell must pass, and its visible part (run as a cell of its own,
  as in the student's copy) must show no ``Out:`` value: a visible check prints one line and
  returns ``None``.

It runs in one fresh kernel at small size. Because the skeleton holds nothing but Setup, answer
cells and grade cells, (D) passing also proves each grade cell is self-contained, as
``notebooks/AUTHORING.md`` requires.
"""

from __future__ import annotations

import ast
import contextlib
import io
from pathlib import Path

import nbformat
from nbexec import NOTEBOOKS, execute

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"

PRELUDE = '''\
class _ForgeryAlwaysEqual:
    """Equal to everything, ordered before and after everything, and never an error."""

    def __init__(self, *args, **kwargs):
        pass

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __lt__ = __le__ = __gt__ = __ge__ = __eq__

    def __hash__(self):
        return 0

    def __bool__(self):
        return True

    def __float__(self):
        return 0.0

    def __int__(self):
        return 0

    def __index__(self):
        return 0

    def __call__(self, *args, **kwargs):
        return self

    def _same(self, *args, **kwargs):
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __truediv__ = __rtruediv__ = __pow__ = __matmul__ = __rmatmul__ = _same
    __neg__ = __abs__ = __round__ = _same

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __repr__(self):
        return "AlwaysEqual()"


def _forgery_stub(namespace, functions, classes, values):
    for name in functions:
        namespace[name] = lambda *args, **kwargs: _ForgeryAlwaysEqual()
    for name in classes:
        namespace[name] = type(name, (_ForgeryAlwaysEqual,), {})
    for name in values:
        namespace[name] = _ForgeryAlwaysEqual()


_forgery_saved_checks = {n: getattr(checks, n) for n in dir(checks) if n.startswith("check_")}


def _forgery_rebind_checks():
    for name in _forgery_saved_checks:
        setattr(checks, name, lambda *args, **kwargs: True)


def _forgery_restore_checks():
    for name, value in _forgery_saved_checks.items():
        setattr(checks, name, value)
'''

ROLES = {
    "A": "an always-equal stub",
    "B": "an always-equal stub with every checks.check_* rebound to return True",
    "C": "the hard-coded forgery",
    "D": "the real answer",
}


def passes(check, /, *args, **kwargs) -> str:
    """Call a visible check as a grade cell does and assert that it passed the way a student sees
    it: no exception, ``None`` returned (so no ``Out:`` under the cell) and exactly one printed
    line, ``✅ ...``. Returns that line."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = check(*args, **kwargs)
    name = getattr(check, "__name__", repr(check))
    assert result is None, f"{name} returned {result!r}: its cell would show Out: {result!r}"
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("✅ "), f"{name} printed {lines!r}"
    return lines[0]


def defined_names(source: str) -> tuple[list[str], list[str], list[str]]:
    """Top-level (functions, classes, other assigned names) that ``source`` defines."""
    functions, classes, values = [], [], []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            functions.append(node.name)
        elif isinstance(node, ast.ClassDef):
            classes.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        values.append(sub.id)
    return functions, classes, values


def exercises(nb) -> tuple[list, list[tuple[list, object]]]:
    """The two Setup cells, and ``(answer_cells, grade_cell)`` for each exercise in order."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = code[:2]
    found, answers = [], []
    for cell in code:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and not meta.get("grade"):
            answers.append(cell)
        elif meta.get("grade"):
            found.append((answers, cell))
            answers = []
    return setup, found


def build(nb, hardcoded: dict[str, str]):
    """The forgery notebook; each added cell's ``metadata.forgery`` says what it is."""
    setup, found = exercises(nb)
    out = nbformat.v4.new_notebook(metadata=nb.metadata)

    def add(source: str, grade_id: str, role: str) -> None:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["forgery"] = {"grade_id": grade_id, "role": role}
        out.cells.append(cell)

    for cell in setup:
        add(cell.source, "", "setup")
    add(PRELUDE, "", "setup")
    for answers, grade in found:
        gid = grade.metadata.nbgrader["grade_id"]
        real = "\n\n".join(a.source for a in answers)
        functions, classes, values = defined_names(real)
        stub = f"_forgery_stub(globals(), {functions!r}, {classes!r}, {values!r})"
        add(stub, gid, "setup")
        add(grade.source, gid, "A")
        add(stub + "\n_forgery_rebind_checks()", gid, "setup")
        add(grade.source, gid, "B")
        add("_forgery_restore_checks()", gid, "setup")
        add(hardcoded[gid], gid, "setup")
        add(grade.source, gid, "C")
        add(real, gid, "setup")
        # (D) in two cells: the grade cell as the student's copy has it (so its output is what
        # a student sees under the cell), then its hidden block (tagged "hidden").
        visible, marker, hidden = grade.source.partition(HIDDEN_BEGIN)
        add(visible.rstrip() or "pass", gid, "D")
        if marker:
            add(marker + hidden, gid, "setup")
            out.cells[-1].metadata["forgery"]["hidden"] = True
    return out


def shown_value(cell) -> str | None:
    """The ``Out:`` value a cell shows (its ``execute_result``), or ``None``."""
    for o in cell.get("outputs", []):
        if o.get("output_type") == "execute_result":
            return str(o.get("data", {}).get("text/plain", ""))[:200]
    return None


def failed(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def error_line(cell) -> str:
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error":
            return f"{o.get('ename')}: {str(o.get('evalue'))[:300]}"
    return ""


def problems(stem: str | Path, hardcoded: dict[str, str], cwd: Path | str) -> list[str]:
    """Run the forgeries for chapter ``stem`` (or a notebook path); return what went wrong."""
    path = Path(stem) if str(stem).endswith(".ipynb") else NOTEBOOKS / f"{stem}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    _, found = exercises(nb)
    grade_ids = [g.metadata.nbgrader["grade_id"] for _, g in found]
    issues = [f"{g}: no hard-coded forgery in HARDCODED" for g in grade_ids if g not in hardcoded]
    issues += [f"{g}: HARDCODED names no grade cell" for g in hardcoded if g not in grade_ids]
    if issues:
        return issues
    run = execute(None, cwd=cwd, nb=build(nb, hardcoded), allow_errors=True, timeout=300)
    for cell in run.cells:
        tag = cell.metadata["forgery"]
        gid, role = tag["grade_id"], tag["role"]
        if role == "setup" and tag.get("hidden"):
            if failed(cell):
                issues.append(
                    f"{gid}: the real answer fails the hidden tests when the grade cell runs with "
                    f"only Setup and the answer cells (is it self-contained?): {error_line(cell)}"
                )
        elif role == "setup":
            if failed(cell):
                issues.append(f"{gid or 'Setup'}: a setup cell failed: {error_line(cell)}")
        elif role == "D" and failed(cell):
            issues.append(
                f"{gid}: the real answer fails when the grade cell runs with only Setup and the "
                f"answer cells (is it self-contained?): {error_line(cell)}"
            )
        elif role == "D" and shown_value(cell) is not None:
            issues.append(
                f"{gid}: the visible grade cell shows Out: {shown_value(cell)} under the check's "
                "message (a visible check must print its line and return None)"
            )
        elif role != "D" and not failed(cell):
            issues.append(f"{gid}: {ROLES[role]} PASSES the grade cell")
    return issues


def assert_forgeries_fail(stem: str | Path, hardcoded: dict[str, str], cwd: Path | str) -> None:
    """Fail the calling test with every forgery that passed and every real answer that failed."""
    found = problems(stem, hardcoded, cwd)
    assert not found, "\n".join(found)
