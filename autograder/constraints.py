"""Judge an exercise's constraints ("no built-in softmax", "NumPy only") from the source the
student wrote, in the grading process: evidence the student's kernel cannot rewrite.

A constraint is data in the grade cell's hidden block (``constrain(forbid=[...],
require=[...], message=...)``, see ``autograder/hidden_tests.py``). It is judged on the
*scope* of the exercise: its answer cell, and the top-level statements of the student's other
cells (other answers, added or edited cells) that bind a name the scope reads or rebind a name
the answer defines, transitively (``scope_trees``). Names are resolved through the imports of
the Setup cells and of the student's cells, so ``import tensorflow as t; t.nn.softmax`` is
``tensorflow.nn.softmax``.

* ``forbid``: patterns (``fnmatch``, case-insensitive). A pattern without a dot matches any
  part of a dotted name (``"softmax"`` matches ``scipy.special.softmax`` and
  ``keras.layers.Softmax``) and any string passed to a call (``Dense(activation="softmax")``);
  one with a dot matches the whole resolved name (``"sklearn.*"``).
* ``require``: each pattern must match the name of a call in the scope.
* A lookup the grader cannot follow anywhere in the student's code (``getattr`` with a built
  name, ``exec``/``eval``/``compile``, ``__import__``, ``importlib``, ``globals()``, ``vars()``,
  ``__dict__``, ``sys.modules``, magics, ...) fails every constrained exercise of the notebook.
"""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass

#: Calls and attributes that reach a name the source does not spell out.
DYNAMIC_CALLS = frozenset(
    {
        "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "breakpoint",
        "get_ipython", "importlib.import_module", "importlib.__import__", "operator.attrgetter",
        "operator.methodcaller", "builtins.getattr", "builtins.eval", "builtins.exec",
    }
)  # fmt: skip
DYNAMIC_ATTRIBUTES = frozenset(
    {
        "__dict__", "__getattribute__", "__getattr__", "__globals__", "__builtins__",
        "__subclasses__", "__self__", "__code__", "__closure__", "__loader__", "__spec__",
        "__path__", "__import__", "modules",
    }
)  # fmt: skip
DYNAMIC_MODULES = ("importlib", "ctypes", "imp", "pydoc", "runpy", "code", "codeop", "marshal")
ATTRIBUTE_BUILTINS = frozenset({"getattr", "setattr", "delattr", "hasattr"})
#: Calls a student may make anywhere without breaking a constraint: asking for a hint.
ALLOWED = frozenset({"course_utils.hint", "course_utils.hints.hint", "course_utils.hints"})


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def _parse(source: str) -> ast.Module | None:
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


def _aliases(trees: list[ast.Module]) -> dict[str, str]:
    """Local name -> dotted module path, from every import in ``trees``."""
    aliases: dict[str, str] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        aliases[a.asname] = a.name
                    else:
                        root = a.name.split(".")[0]
                        aliases[root] = root
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(aliases.get(node.id, node.id))
    elif parts:
        parts.append("?")  # an attribute of a call result or a subscript
    else:
        return None
    return ".".join(reversed(parts))


def _names_and_strings(tree: ast.AST, aliases: dict[str, str]):
    """(dotted names used, dotted names called, strings passed to calls) in ``tree``."""
    used, called, strings = set(), set(), set()
    docstrings = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for decorator in node.decorator_list:  # a bare @tf.function calls tf.function
                name = _dotted(decorator, aliases)
                if name:
                    called.add(name)
        if isinstance(node, (ast.Attribute, ast.Name)):
            name = _dotted(node, aliases)
            if name:
                used.add(name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", None) or ""
            for a in node.names:
                used.add(f"{module}.{a.name}" if module else a.name)
        if isinstance(node, ast.Call):
            name = _dotted(node.func, aliases)
            if name:
                called.add(name)
            if name in ("getattr", "builtins.getattr", "hasattr") and len(node.args) >= 2:
                target, attr = node.args[0], node.args[1]
                if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                    base = _dotted(target, aliases) or "?"
                    used.add(f"{base}.{attr.value}")
            if name != "print":
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    if (
                        isinstance(arg, ast.Constant)
                        and isinstance(arg.value, str)
                        and id(arg) not in docstrings
                    ):
                        strings.add(arg.value)
    return used, called, strings


def dynamic_lookups(tree: ast.AST, aliases: dict[str, str]) -> list[str]:
    """What in ``tree`` reaches names the source does not spell out (empty: nothing)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func, aliases) or ""
            if name in DYNAMIC_CALLS or name.split(".")[-1] in ("eval", "exec", "__import__"):
                found.append(f"{name}()")
            elif name.split(".")[-1] in ATTRIBUTE_BUILTINS and name in ATTRIBUTE_BUILTINS | {
                f"builtins.{b}" for b in ATTRIBUTE_BUILTINS
            }:
                if len(node.args) < 2 or not (
                    isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
                ):
                    found.append(f"{name}() with a computed name")
        elif isinstance(node, ast.Attribute) and node.attr in DYNAMIC_ATTRIBUTES:
            if node.attr != "modules" or (_dotted(node, aliases) or "").startswith("sys."):
                found.append(f".{node.attr}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for module in modules:
                if module.split(".")[0] in DYNAMIC_MODULES:
                    found.append(f"import {module}")
    return found


def _matches(pattern: str, used: set[str], strings: set[str]) -> str | None:
    pattern = pattern.lower()
    for name in sorted(used):
        low = name.lower()
        if "." in pattern:
            if fnmatch.fnmatchcase(low, pattern) or fnmatch.fnmatchcase(low, pattern + ".*"):
                return name
        elif any(fnmatch.fnmatchcase(part, pattern) for part in low.split(".")):
            return name
    if "." not in pattern:
        for s in sorted(strings):
            if fnmatch.fnmatchcase(s.lower(), pattern):
                return repr(s)
    return None


def _binds(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement binds (defs, classes, imports, assignment targets)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    return {
        n.id
        for n in ast.walk(stmt)
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))
    }


def _reads(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def scope_trees(answer: str, others: list[str]) -> list[ast.AST] | None:
    """The ASTs a constraint is judged on (see the module docstring); None if the answer does
    not parse (a syntax error fails the exercise anyway).

    The answer cell, plus every top-level statement of the student's other cells that binds a
    name the scope reads (a helper it calls), or rebinds a name the answer defines, found
    transitively. A scratch cell that only uses the answer (``build_mlp(...).summary()``), or
    a tutorial cell edited to try something, is not part of it.
    """
    own = _parse(answer)
    if own is None:
        return None
    statements = [stmt for tree in map(_parse, others) if tree is not None for stmt in tree.body]
    defined = {name for stmt in own.body for name in _binds(stmt)}
    scope: list[ast.AST] = [own]
    wanted = _reads(own) | defined
    taken: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i, stmt in enumerate(statements):
            if i not in taken and _binds(stmt) & wanted:
                taken.add(i)
                scope.append(stmt)
                wanted |= _reads(stmt)
                changed = True
    return scope


def judge(rules: list[dict], answer: str, others: list[str], setup: list[str]) -> Verdict:
    """Judge ``rules`` (``constrain`` data) on the student's source: ``answer`` is the
    exercise's answer cell, ``others`` every other cell the student wrote (other answers,
    added or edited cells), ``setup`` the Setup cells (for import aliases)."""
    if not rules:
        return Verdict(True)
    trees = scope_trees(answer, others)
    if trees is None:
        return Verdict(False, "the answer does not parse")
    every = [t for t in (_parse(s) for s in [answer, *others]) if t is not None]
    aliases = _aliases([t for t in (_parse(s) for s in setup) if t is not None] + every)
    dynamic = [d for t in every for d in dynamic_lookups(t, aliases)]
    if dynamic:
        return Verdict(
            False,
            f"the code uses {dynamic[0]}, a lookup the grader cannot follow, so the "
            "exercise's constraints cannot be checked",
        )
    used, called, strings = set(), set(), set()
    for tree in trees:
        u, c, st = _names_and_strings(tree, aliases)
        used |= u - ALLOWED
        called |= c - ALLOWED
        strings |= st
    for rule in rules:
        message = rule.get("message", "")
        for pattern in rule.get("forbid", []):
            hit = _matches(pattern, used, strings)
            if hit:
                return Verdict(False, f"uses {hit}, which the exercise forbids. {message}".strip())
        for pattern in rule.get("require", []):
            if _matches(pattern, called, set()) is None:
                return Verdict(
                    False,
                    f"does not call {pattern}, which the exercise requires. {message}".strip(),
                )
    return Verdict(True)
