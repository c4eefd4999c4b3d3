"""Read a grade cell's hidden block: what the student's kernel runs, what the reference kernel
runs, and the constraints, with a lint that rejects anything else.

A hidden block holds top-level statements of three kinds (see ``course_utils/grading.py``):

* ``probe("key", <expression>)``: runs in the student's kernel only; the key is a literal.
* ``expect("key", <reference>, atol=..., rtol=..., cmp=...)``: runs in the reference kernel
  only (a kernel that runs the Setup cells and the reference side of every hidden block,
  nothing a student wrote); keyword arguments are literals.
* ``constrain(forbid=[...], require=[...], message="...")``: literal data, read here and never
  run by the grader.

Every other statement (imports, grader-chosen inputs such as ``hidden_x = ...``, reference
helpers such as ``def ref_softmax(...)``) goes to each side that needs it: to the student's
kernel when a probe reads a name it binds (directly or through other statements), to the
reference kernel when an expect does. So the student's kernel never receives an ``expect``
nor a reference helper, and expected values never enter it.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

PROBE, EXPECT, CONSTRAIN = "probe", "expect", "constrain"
#: Names a reference helper must start with; the student's side may neither bind nor read them.
REFERENCE_PREFIXES = ("ref_", "reference_")
#: The keyword arguments ``constrain`` takes (see autograder/constraints.py).
CONSTRAINT_KEYS = ("forbid", "require", "message")
EXPECT_KEYWORDS = ("atol", "rtol", "cmp")
_BUILTINS = frozenset(dir(builtins))


class HiddenTestError(ValueError):
    """A hidden block the grader cannot split safely; the message names the statement."""


@dataclass
class HiddenBlock:
    """One grade cell's hidden block, split for the two kernels."""

    student: list[str] = field(default_factory=list)  # statements, in order
    student_keys: list[list[str]] = field(default_factory=list)  # probe keys per statement
    reference: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    expects: list[str] = field(default_factory=list)
    constraints: list[dict] = field(default_factory=list)


def _call_name(stmt: ast.stmt) -> str | None:
    if (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Call)
        and isinstance(stmt.value.func, ast.Name)
        and stmt.value.func.id in (PROBE, EXPECT, CONSTRAIN)
    ):
        return stmt.value.func.id
    return None


def _bound(node: ast.AST) -> set[str]:
    """Names a statement binds at the top level (assignment targets, defs, imports, loops)."""
    names: set[str] = set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            break
    return names


def _local_names(node: ast.AST) -> set[str]:
    """Every name bound anywhere inside ``node`` (arguments, comprehension and loop targets)."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
        elif isinstance(sub, ast.arg):
            names.add(sub.arg)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in sub.names}
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            names.add(sub.name)
    return names


def _changed(node: ast.AST) -> set[str]:
    """Names a statement may change in place. A statement run for its effects (an expression
    such as ``fill_weights(hidden_model, 3)``, a loop, a ``with``) may change every name it
    reads; an assignment or definition only the receiver of a method call
    (``hidden_a = hidden_rng.normal()``) or of an item or attribute assignment
    (``hidden_x[0] = 1``), so ``hidden_y = student_fn(hidden_x)`` changes nothing."""
    if isinstance(
        node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
    ):
        return set()  # defining a function or importing changes nothing that exists
    if not isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return free_names(node)
    names = set()
    for sub in ast.walk(node):
        target = None
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            target = sub.func.value
        elif isinstance(sub, (ast.Subscript, ast.Attribute)) and isinstance(sub.ctx, ast.Store):
            target = sub.value
        while isinstance(target, (ast.Attribute, ast.Subscript, ast.Call)):
            target = target.func if isinstance(target, ast.Call) else target.value
        if isinstance(target, ast.Name):
            names.add(target.id)
    return names


def free_names(node: ast.AST) -> set[str]:
    """Names ``node`` reads that it does not bind itself (an over-approximation is fine)."""
    loads = {
        n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    return loads - _local_names(node) - _BUILTINS


def setup_names(sources: list[str]) -> set[str]:
    """Names the Setup cells bind (the reference kernel runs them, so hidden tests may use them)."""
    from IPython.core.inputtransformer2 import TransformerManager

    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(TransformerManager().transform_cell(source))
        except SyntaxError:
            continue
        for stmt in tree.body:
            names |= _bound(stmt)
    return names


def _segment(source: str, stmt: ast.stmt) -> str:
    """A top-level statement's source, decorators included (``get_source_segment`` starts a
    decorated ``def`` at the ``def`` line, which would drop ``@tf.custom_gradient``)."""
    decorators = getattr(stmt, "decorator_list", None)
    if decorators:
        lines = source.splitlines()
        start = min(d.lineno for d in decorators) - 1  # the "@" line
        return "\n".join(lines[start : stmt.end_lineno])
    return ast.get_source_segment(source, stmt) or ast.unparse(stmt)


def _literal(node: ast.AST, what: str, line: int):
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise HiddenTestError(f"line {line}: {what} must be a literal") from None


def split(source: str, available: set[str] | None = None) -> HiddenBlock:
    """Split a hidden block's source (dedented) into its student and reference sides.

    ``available``: the names the reference kernel has before the block (the Setup cells'
    names). When given, a reference-side statement that reads any other name (a name the
    student's code defines) is rejected, as is a student-side statement that binds or reads a
    reference helper (``ref_*``). Raises :class:`HiddenTestError` naming the statement.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise HiddenTestError(f"line {exc.lineno}: {exc.msg}") from None
    stmts = tree.body
    kinds = [_call_name(s) for s in stmts]
    block = HiddenBlock()
    for stmt, kind in zip(stmts, kinds):
        if kind is None:
            continue
        call = stmt.value
        line = stmt.lineno
        if kind == CONSTRAIN:
            if call.args or any(k.arg not in CONSTRAINT_KEYS for k in call.keywords):
                raise HiddenTestError(
                    f"line {line}: constrain() takes only keywords {', '.join(CONSTRAINT_KEYS)}"
                )
            rule = {
                k.arg: _literal(k.value, f"constrain({k.arg}=...)", line) for k in call.keywords
            }
            if not rule.get("forbid") and not rule.get("require"):
                raise HiddenTestError(
                    f"line {line}: constrain() needs forbid=[...] or require=[...]"
                )
            block.constraints.append(rule)
            continue
        if len(call.args) != 2 or not isinstance(call.args[0], ast.Constant):
            raise HiddenTestError(f"line {line}: {kind}() takes a literal key and one value")
        key = call.args[0].value
        if not isinstance(key, str) or not key:
            raise HiddenTestError(f"line {line}: the key of {kind}() must be a non-empty string")
        if kind == PROBE:
            if call.keywords:
                raise HiddenTestError(f"line {line}: probe() takes no keywords")
            if key in block.probes:
                raise HiddenTestError(f"line {line}: probe {key!r} appears twice")
            block.probes.append(key)
        else:
            for k in call.keywords:
                if k.arg not in EXPECT_KEYWORDS:
                    raise HiddenTestError(f"line {line}: expect() has no keyword {k.arg!r}")
                _literal(k.value, f"expect({k.arg}=...)", line)
            if key in block.expects:
                raise HiddenTestError(f"line {line}: expect {key!r} appears twice")
            block.expects.append(key)
    if sorted(block.probes) != sorted(block.expects):
        only_p = sorted(set(block.probes) - set(block.expects))
        only_e = sorted(set(block.expects) - set(block.probes))
        raise HiddenTestError(
            "every probe needs one expect with the same key and vice versa"
            + (f"; probes without expect: {only_p}" if only_p else "")
            + (f"; expects without probe: {only_e}" if only_e else "")
        )
    if not block.expects:
        raise HiddenTestError("a hidden block needs at least one probe/expect pair")

    # Which plain statements each side needs: those binding, or changing in place (a method
    # call on it, an item or attribute assigned), a name that a later statement of that side
    # reads, transitively. Merely reading a name (``np``, a shared input) pulls nothing in.
    def needs(side_kind: str) -> set[int]:
        needed: set[int] = set()
        wanted: set[str] = set()
        for i in range(len(stmts) - 1, -1, -1):
            kind = kinds[i]
            if kind == side_kind:
                wanted |= free_names(stmts[i])
            elif kind is None and (_bound(stmts[i]) | _changed(stmts[i])) & wanted:
                needed.add(i)
                wanted |= free_names(stmts[i])
        return needed

    for_student, for_reference = needs(PROBE), needs(EXPECT)
    for i, (stmt, kind) in enumerate(zip(stmts, kinds)):
        text = _segment(source, stmt)
        if kind is None and i not in for_student and i not in for_reference:
            raise HiddenTestError(
                f"line {stmt.lineno}: `{text.splitlines()[0]}` feeds no probe and no expect"
            )
        if kind == PROBE or i in for_student:
            touched = (_bound(stmt) | free_names(stmt)) if kind is None else free_names(stmt)
            leaked = sorted(n for n in touched if n.startswith(REFERENCE_PREFIXES))
            if leaked:
                raise HiddenTestError(
                    f"line {stmt.lineno}: reference helper {leaked[0]} would be sent to the "
                    "student's kernel (a probe needs it)"
                )
            block.student.append(text)
            block.student_keys.append([stmt.value.args[0].value] if kind == PROBE else [])
        if kind == EXPECT or i in for_reference:
            if available is not None:
                bound_before = set().union(*(_bound(s) for s in stmts[:i])) if i else set()
                missing = sorted(free_names(stmt) - available - bound_before)
                if missing:
                    raise HiddenTestError(
                        f"line {stmt.lineno}: the reference side reads {', '.join(missing)}, "
                        "which only the student's code defines (compute it inside probe())"
                    )
            block.reference.append(text)
    # A student-side statement that fails takes the probes that depend on it along.
    return block


def hidden_source(cell_source: str) -> str:
    """The hidden part of a grade cell's source (dedented), by the release's delimiters."""
    from autograder.preprocessors.split_hidden_tests import SplitHiddenTests

    return SplitHiddenTests().split(cell_source)[1]


def answer_cells(nb) -> dict[str, list[int]]:
    """``{grade_id of a grade cell: [indices of its answer cells]}``: the answer (solution)
    cells between the previous autograded cell and this one."""
    from nbgrader.utils import is_grade, is_solution

    out: dict[str, list[int]] = {}
    pending: list[int] = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if is_solution(cell) and not is_grade(cell):
            pending.append(i)
        elif is_grade(cell) and not is_solution(cell):
            out[cell.metadata.nbgrader["grade_id"]] = pending
            pending = []
    return out


def setup_sources(nb) -> list[str]:
    """The Setup cells of an instructor notebook: the read-only (locked) code cells before its
    first exercise. The reference kernel runs them, and the scan reads their imports."""
    from nbgrader.utils import is_grade, is_locked, is_solution

    out = []
    for cell in nb.cells:
        if is_grade(cell) or is_solution(cell):
            break
        if cell.cell_type == "code" and is_locked(cell):
            out.append(cell.source)
    return out


def split_notebook(nb) -> dict[str, HiddenBlock]:
    """Every autograded cell's hidden block, split and linted; raises HiddenTestError naming the
    grade cell when one is missing or wrong."""
    from nbgrader.utils import is_grade, is_solution

    available = setup_names(setup_sources(nb))
    blocks, problems = {}, []
    for cell in nb.cells:
        if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
            continue
        gid = cell.metadata.nbgrader["grade_id"]
        try:
            hidden = hidden_source(cell.source)
            if not hidden.strip():
                raise HiddenTestError("no hidden block: the grader would have nothing to judge")
            blocks[gid] = split(hidden, available)
        except (HiddenTestError, ValueError) as exc:
            problems.append(f"{gid}: {exc}")
    if problems:
        raise HiddenTestError("\n".join(problems))
    return blocks
