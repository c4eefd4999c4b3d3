"""Static scan of the code a student wrote, for tricks that aim at the grader rather than the task.

Grading decides outside the student's kernel (the kernel only hands back probed values, which
the grading process compares with expected values the kernel never saw; see the threat model in
``autograder/README.md``), so a finding is a review hint for the instructor, not the safety
net. It reads every code cell that is not identical to a cell of the instructor notebook
(answer cells, cells the student added or edited), after IPython's own input transformation
(so ``%pip`` and ``!ls`` are seen as the calls they become), and reports:

* IPython hooks: ``input_transformers_*``, ``ast_transformers``, ``events.register``,
  ``set_custom_exc``, ``showtraceback``, ``run_cell`` and the like; kernel internals
  (``get_ipython().kernel``, ``do_execute``, ``shell_handlers``);
* interpreter hooks and introspection: ``sys.settrace`` / ``setprofile``, ``sys.addaudithook``,
  frames (``sys._getframe``, ``f_globals``...), ``__code__``, ``__globals__``,
  ``__subclasses__``, ``__self__`` (``print.__self__`` is the builtins module), ``__path__``,
  ``__loader__`` / ``__spec__``, ``sys.meta_path``;
* ``builtins`` / ``__builtins__`` / ``__import__``, ``exec`` / ``eval`` / ``compile`` however
  reached (by name or as an attribute), ``globals()`` / ``vars()``;
* ``getattr`` / ``setattr`` / ``hasattr`` / ``delattr`` with a name built at run time;
* assignment to an attribute of an imported module (``np.allclose = ...``,
  ``checks.check_mlp = ...``, ``setattr(np, ...)``): monkeypatching;
* ``linecache``, ``inspect``, ``ctypes``, ``gc``, ``importlib``, ``sys.modules``, ``types``,
  ``base64`` / ``codecs`` / ``zlib`` decoding, long encoded string constants, IPython or kernel
  internals, ``subprocess`` and ``os.system``-style process calls;
* ``%pip`` and every other magic except ``magic_allow`` (``%time``, ``%timeit``,
  ``%matplotlib``), and ``!`` shell escapes.

A finding never changes a score: the row gets status ``flagged`` naming the cell and the
technique, for a human to look at.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache

from autograder.hidden_tests import setup_sources

#: Attributes whose mere use in student code is a finding.
HOOK_ATTRIBUTES = {
    "input_transformers_cleanup": "input_transformers_cleanup",
    "input_transformers_post": "input_transformers_post",
    "input_transformer_manager": "input_transformers",
    "ast_transformers": "ast_transformers",
    "set_custom_exc": "set_custom_exc",
    "custom_exceptions": "set_custom_exc",
    "CustomTB": "set_custom_exc",
    "showtraceback": "showtraceback",
    "showsyntaxerror": "showtraceback",
    "InteractiveTB": "showtraceback",
    "run_cell": "run_cell",
    "run_cell_async": "run_cell",
    "run_code": "run_cell",
    "run_ast_nodes": "run_cell",
    "transform_cell": "run_cell",
    "user_expressions": "user_expressions",
    "user_ns": "user_ns",
    "user_global_ns": "user_ns",
    "display_formatter": "display_formatter",
    "displayhook": "displayhook",
    "excepthook": "excepthook",
    "settrace": "sys.settrace",
    "setprofile": "sys.setprofile",
    "_getframe": "frame introspection",
    "f_back": "frame introspection",
    "f_globals": "frame introspection",
    "f_locals": "frame introspection",
    "f_lineno": "frame introspection",
    "f_trace": "frame introspection",
    "tb_frame": "frame introspection",
    "__code__": "__code__",
    "__globals__": "__globals__",
    "__builtins__": "__builtins__",
    "__subclasses__": "__subclasses__",
    "__import__": "__import__",
    "meta_path": "sys.meta_path",
    "path_hooks": "sys.meta_path",
    "path_importer_cache": "sys.meta_path",
    "addaudithook": "sys.addaudithook",
    "__self__": "__self__",
    "__path__": "__path__",
    "__loader__": "import machinery",
    "__spec__": "import machinery",
    "__dict__": "__dict__",
    "__getattribute__": "__getattribute__",
    "__closure__": "__code__",
    "do_execute": "kernel internals",
    "shell_handlers": "kernel internals",
    "execute_request": "kernel internals",
    "iopub_socket": "kernel internals",
    "session": "kernel internals",
}

#: Attributes that are exec/eval when reached as an attribute (``builtins.exec``).
EXEC_ATTRIBUTES = {"exec", "eval", "__import__"}  # not `compile`: model.compile(...)
#: A string constant at least this long made only of base64/hex characters is "encoded".
ENCODED_MIN = 48

#: Modules whose import is a finding (the first dotted part; IPython.display is fine).
MODULES = {
    "builtins": "builtins",
    "__builtin__": "builtins",
    "linecache": "linecache",
    "inspect": "inspect",
    "ctypes": "ctypes",
    "gc": "gc",
    "importlib": "importlib",
    "ipykernel": "kernel internals",
    "jupyter_client": "kernel internals",
    "zmq": "kernel internals",
    "traitlets": "kernel internals",
    "subprocess": "subprocess",
    "pty": "subprocess",
    "multiprocessing": "subprocess",
    "marshal": "code objects",
    "dis": "code objects",
    "types": "types (code and module objects)",
    "base64": "encoded strings",
    "codecs": "encoded strings",
    "binascii": "encoded strings",
    "zlib": "encoded strings",
    "bz2": "encoded strings",
    "lzma": "encoded strings",
    "pickle": "code objects",
    "runpy": "importlib",
    "pkgutil": "importlib",
    "zipimport": "importlib",
    "sys.monitoring": "sys.settrace",
}
SAFE_IPYTHON = ("IPython.display",)

#: Calls by bare name that are findings.
CALLS = {
    "exec": "exec/eval",
    "eval": "exec/eval",
    "compile": "exec/eval",
    "__import__": "__import__",
    "globals": "globals()",
    "locals": "globals()",
    "vars": "vars()",
    "breakpoint": "breakpoint",
}
ATTRIBUTE_CALLS = ("getattr", "setattr", "hasattr", "delattr")

#: ``os`` functions that start processes or signal them.
OS_PROCESS = {
    "system",
    "popen",
    "fork",
    "forkpty",
    "kill",
    "killpg",
    "setsid",
    "execv",
    "execve",
    "execl",
    "execle",
    "execlp",
    "execvp",
    "execvpe",
    "spawnl",
    "spawnv",
    "spawnve",
    "posix_spawn",
    "posix_spawnp",
}

MAGIC_ALLOW = frozenset({"time", "timeit", "matplotlib"})


@dataclass(frozen=True)
class Finding:
    """One technique found in one cell (``cell`` is 1-based, as the CSV names cells)."""

    cell: int
    label: str
    technique: str

    def __str__(self) -> str:
        return (
            f"cell {self.cell} ({self.label}): {self.technique}"
            if self.label
            else (f"cell {self.cell}: {self.technique}")
        )


def _encoded(value) -> bool:
    """A long string (or bytes) of only base64 or hex characters: code hidden from a reader."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str) or len(value) < ENCODED_MIN or " " in value:
        return False
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-\\x")
    return set(value) <= alphabet


@lru_cache(maxsize=4096)
def _transform(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - scan the raw text then
        return source


def _root(node: ast.AST) -> tuple[str | None, str]:
    """The Name at the root of an attribute chain and the dotted path: ``np.linalg.norm``."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return node.id, ".".join(reversed(parts))
    return None, ".".join(reversed(parts))


def _import_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    names.add(alias.asname or alias.name)
    return names


def module_names(sources) -> set[str]:
    """Every name an ``import`` binds in ``sources`` (these are modules, or live in one)."""
    names = {"sys", "os", "builtins"}
    for source in sources:
        try:
            names |= _import_names(ast.parse(_transform(source)))
        except SyntaxError:
            continue
    return names


class _Visitor(ast.NodeVisitor):
    def __init__(self, modules: set[str], magic_allow: frozenset[str], setup: set[str]):
        self.modules = set(modules)
        self.magic_allow = magic_allow
        self.setup = setup
        self.found: list[str] = []

    def _rebinding(self, name: str) -> None:
        if name in self.setup:
            self.add(f"rebinding {name}")

    def visit_FunctionDef(self, node) -> None:
        self._rebinding(node.name)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._rebinding(node.name)
        self.generic_visit(node)

    def add(self, technique: str) -> None:
        if technique not in self.found:
            self.found.append(technique)

    # imports -----------------------------------------------------------------------------
    def _module(self, name: str) -> None:
        if name.startswith(SAFE_IPYTHON):
            return
        if name.split(".")[0] == "IPython":
            self.add("IPython internals")
            return
        for candidate in (name, name.split(".")[0]):
            if candidate in MODULES:
                self.add(MODULES[candidate])
                return

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._module(alias.name)
            self.modules.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        self._module(base)
        for alias in node.names:
            self._module(f"{base}.{alias.name}")
            if alias.name in HOOK_ATTRIBUTES:
                self.add(HOOK_ATTRIBUTES[alias.name])
            if base == "sys" and alias.name == "modules":
                self.add("sys.modules")
            if base == "os" and alias.name in OS_PROCESS:
                self.add("os process calls")
            if alias.name != "*":
                self.modules.add(alias.asname or alias.name)

    # names and attributes ----------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in ("__builtins__", "__import__"):
            self.add(node.id)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        root, dotted = _root(node)
        if attr in HOOK_ATTRIBUTES and not (attr == "session" and root != "get_ipython"):
            self.add(HOOK_ATTRIBUTES[attr])
        elif attr in EXEC_ATTRIBUTES:
            self.add("exec/eval")
        elif (
            attr == "kernel"
            and isinstance(node.value, ast.Call)
            and (getattr(node.value.func, "id", "") == "get_ipython")
        ):
            self.add("kernel internals")
        elif attr in ("register", "unregister", "callbacks") and _root(node.value)[1].endswith(
            "events"
        ):
            self.add("events.register")
        elif dotted == "sys.modules":
            self.add("sys.modules")
        elif root == "os" and attr in OS_PROCESS:
            self.add("os process calls")
        elif attr in ("system", "getoutput") and "get_ipython" in ast.unparse(node.value):
            self.add("shell escape (!)")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        # getattr(obj, "ast_transformers"), setattr(sys, "settrace", ...), "".join tricks aside
        if _encoded(node.value):
            self.add("encoded string")
        if isinstance(node.value, str) and len(node.value) < 200:
            for word in node.value.replace(".", " ").split():
                if word in HOOK_ATTRIBUTES and not word.startswith("__"):
                    self.add(f"{HOOK_ATTRIBUTES[word]} (named in a string)")

    # calls -------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in CALLS:
                self.add(CALLS[func.id])
            if func.id in ATTRIBUTE_CALLS and not (
                len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                self.add(f"{func.id} with a computed name")
            if func.id in ("setattr", "delattr") and node.args:
                root, dotted = _root(node.args[0])
                if root in self.modules:
                    self.add(f"monkeypatching {dotted} (setattr)")
        if isinstance(func, ast.Attribute) and func.attr in ("run_line_magic", "run_cell_magic"):
            name = ""
            if node.args and isinstance(node.args[0], ast.Constant):
                name = str(node.args[0].value).lstrip("%")
            if name not in self.magic_allow:
                self.add(f"%{name or '?'} magic")
        self.generic_visit(node)

    # assignments -------------------------------------------------------------------------
    def _target(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target(element)
            return
        if isinstance(target, ast.Starred):
            self._target(target.value)
            return
        if isinstance(target, ast.Name):
            self._rebinding(target.id)
        elif isinstance(target, ast.Attribute):
            root, dotted = _root(target)
            if root in self.modules:
                self.add(f"monkeypatching {dotted}")
        elif isinstance(target, ast.Subscript):
            base = target.value
            if isinstance(base, ast.Attribute) and base.attr == "__dict__":
                self.add("__dict__ assignment")
            elif isinstance(base, ast.Call) and getattr(base.func, "id", "") == "vars":
                self.add("__dict__ assignment")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._target(target)
            # an alias of a module is a module too: c = checks; c.check_x = ...
            if isinstance(target, ast.Name):
                root, _ = _root(node.value)
                if root in self.modules and isinstance(node.value, (ast.Name, ast.Attribute)):
                    self.modules.add(target.id)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._target(node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._target(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._target(target)
        self.generic_visit(node)


def scan_source(
    source: str,
    modules: set[str] | None = None,
    magic_allow: frozenset[str] = MAGIC_ALLOW,
    setup: set[str] | None = None,
) -> list[str]:
    """The techniques found in one cell's source (empty: nothing suspicious).

    ``modules``: names bound to modules (attribute assignment on them is monkeypatching);
    ``setup``: names the Setup cell binds, which grade cells use (assigning them is flagged).
    """
    code = _transform(source)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []  # it cannot run either
    visitor = _Visitor(
        modules if modules is not None else {"sys", "os"}, magic_allow, setup or set()
    )
    visitor.visit(tree)
    return visitor.found


def scan_notebook(nb, source_nb, magic_allow: frozenset[str] = MAGIC_ALLOW) -> list[Finding]:
    """Findings in every code cell of ``nb`` that the instructor notebook does not have as is.

    Grade cells and read-only cells are skipped (grading restores them from the instructor
    copy); so is any cell whose source equals a code cell of ``source_nb``.
    """
    instructor = {c.source.strip() for c in source_nb.cells if c.cell_type == "code"}
    setup = module_names(setup_sources(source_nb)) - {"sys", "os", "builtins"}
    modules = module_names(
        [c.source for c in source_nb.cells if c.cell_type == "code"]
        + [c.source for c in nb.cells if c.cell_type == "code"]
    )
    findings = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if meta.get("solution"):
            label = str(meta.get("grade_id", ""))
        elif meta.get("grade") or meta.get("locked"):
            continue
        else:
            label = "" if cell.get("id") in {c.get("id") for c in source_nb.cells} else "added"
        if cell.source.strip() in instructor:
            continue
        for technique in scan_source(cell.source, modules, magic_allow, setup):
            findings.append(Finding(index + 1, label, technique))
    return findings


def summarize(findings: list[Finding]) -> list[str]:
    """One entry per cell: ``cell 12 (ch01_mlp): ast_transformers, sys.settrace``."""
    by_cell: dict[tuple[int, str], list[str]] = {}
    for f in findings:
        by_cell.setdefault((f.cell, f.label), []).append(f.technique)
    return [
        str(Finding(cell, label, ", ".join(techniques)))
        for (cell, label), techniques in by_cell.items()
    ]
