"""What one notebook cell does to the kernel's state, as far as its source tells: the facts the
execution plan (``autograder.plan``) is built from.

``analyse`` reads a cell with ``ast`` after IPython's input transformation (so magics parse)
and returns its ``Facts``: the names it defines, reads and mutates (``model.fit(...)``,
``x.append(...)``, ``obj.attr = ...``, ``d[k] = ...`` mutate the name they start from; a
function or class body's global reads and mutations are kept under its name, for the cells that
use it), the path literals it names, whether it touches global state, and why the analysis
cannot decide (``exec``, ``globals()``, star imports, magics, computed ``getattr``/``setattr``).
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass, field
from functools import lru_cache

#: Dotted names (after resolving import aliases) whose use changes process-wide state.
GLOBAL_STATE = (
    "keras.config",
    "keras.utils.set_random_seed",
    "keras.backend.clear_session",
    "keras.backend.set_floatx",
    "keras.backend.set_epsilon",
    "keras.backend.set_image_data_format",
    "keras.mixed_precision",
    "tensorflow.random.set_seed",
    "tensorflow.random.set_global_generator",
    "tensorflow.config",
    "tensorflow.debugging.enable_check_numerics",
    "tensorflow.debugging.disable_check_numerics",
    "tensorflow.keras.config",
    "tensorflow.keras.utils.set_random_seed",
    "tensorflow.keras.backend",
    "tensorflow.keras.mixed_precision",
    "numpy.random.seed",
    "numpy.random.set_state",
    "random.seed",
    "random.setstate",
    "course_utils.reset_session",
    "os.environ",
    "os.putenv",
    "os.unsetenv",
    "os.chdir",
    "sys.path",
    "sys.setrecursionlimit",
    "warnings.filterwarnings",
    "warnings.simplefilter",
)

#: Methods that only read the object they are called on (everything else counts as a mutation).
READ_ONLY_METHODS = frozenset(
    "all any argmax argmin astype copy count count_params endswith format get get_config "
    "get_weights index item items join keys lower max mean min numpy ravel reshape round "
    "split squeeze startswith std strip sum tolist transpose upper values".split()
)

#: Calls whose effect on names cannot be known.
OPAQUE_CALLS = frozenset(
    {"exec", "eval", "compile", "globals", "locals", "vars", "__import__", "get_ipython"}
)
OPAQUE_MODULES = frozenset({"importlib", "builtins"})
OPAQUE_ATTRIBUTES = frozenset({"__dict__", "__globals__", "__builtins__", "modules"})

_EXTENSION = re.compile(r"^[\w\-./]*[A-Za-z_][\w\-]*\.[A-Za-z][A-Za-z0-9]{0,7}$")
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@lru_cache(maxsize=4096)  # a worker sees the same instructor cells in every submission
def transform(source: str) -> str:
    """The cell as the kernel compiles it (IPython's input transformation: magics become calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def path_tokens(text: str) -> set[str]:
    """The file names a string literal names: itself and its parent folders, when it looks like
    a path (``"logs/ch05/run"`` -> ``logs/ch05/run``, ``logs/ch05``, ``logs``); else nothing."""
    text = text.strip()
    if not text or len(text) > 200 or "://" in text or any(c.isspace() for c in text):
        return set()
    if "/" not in text and not _EXTENSION.match(text):
        return set()
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts or not any(c.isalnum() for c in "".join(parts)):
        return set()
    return {"/".join(parts[: i + 1]) for i in range(len(parts))}


def _root(node) -> str | None:
    """The name an attribute/subscript/call chain starts from (``a`` of ``a.b[0].c()``); None
    when it starts from what a function returns (``make_model().fit``: a new object)."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return None
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _target_names(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


@dataclass
class Facts:
    """What one cell does to the kernel's state, as far as its source tells."""

    reads: set[str] = field(default_factory=set)
    defines: set[str] = field(default_factory=set)
    kills: set[str] = field(default_factory=set)  # rebound unconditionally at top level
    mutates: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)  # other short literals: a folder's name?
    global_state: bool = False
    opaque: str = ""  # why the analysis cannot decide; "" when it can
    # def/class name -> global names its body reads / mutates when it is used
    deferred_reads: dict[str, set[str]] = field(default_factory=dict)
    deferred_mutates: dict[str, set[str]] = field(default_factory=dict)


class _Scope:
    """Free names, stores and mutated roots of one scope (module statement or function body)."""

    def __init__(self, facts: Facts, modules: dict[str, str], params=()):
        self.facts, self.modules = facts, modules
        self.loads: set[str] = set()
        self.stores: set[str] = set(params)
        self.globals: set[str] = set()
        self.mutated: set[str] = set()
        self.inner_loads: set[str] = set()
        self.inner_mutated: set[str] = set()
        self.globals_assigned: set[str] = set()  # names inner functions declare global and bind

    def free(self) -> tuple[set[str], set[str]]:
        local = self.stores - self.globals
        return (self.loads | self.inner_loads) - local, (self.mutated | self.inner_mutated) - local

    def visit(self, nodes) -> None:
        stack = list(nodes)
        while stack:
            node = stack.pop()
            if isinstance(node, ast.JoinedStr):  # its constant parts are not whole strings
                stack.extend(v.value for v in node.values if isinstance(v, ast.FormattedValue))
                self._facts_of(node)
                continue
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "__import__"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):  # __import__("time"): an import by a constant name
                stack.extend([*node.args, *node.keywords])
                continue
            self._facts_of(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                if not isinstance(node, ast.Lambda):
                    self.stores.add(node.name)
                    stack.extend(node.decorator_list)
                    if node.returns:
                        stack.append(node.returns)
                args = node.args
                stack.extend([*args.defaults, *(d for d in args.kw_defaults if d)])
                body = node.body if isinstance(node.body, list) else [node.body]
                self._inner(node, body, self._params(args))
                continue
            if isinstance(node, ast.ClassDef):
                self.stores.add(node.name)
                stack.extend([*node.bases, *node.keywords, *node.decorator_list])
                self._inner(node, node.body, ())
                continue
            if isinstance(node, _COMPREHENSIONS):
                self._inner(node, list(ast.iter_child_nodes(node)), ())
                continue
            if isinstance(node, (ast.Global, ast.Nonlocal)):
                self.globals.update(node.names)
                continue
            if isinstance(node, ast.Name):
                (self.loads if isinstance(node.ctx, ast.Load) else self.stores).add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name != "*":
                        self.stores.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.stores.add(node.name)
            elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
                self.stores.add(node.name)
            self._mutations(node)
            stack.extend(ast.iter_child_nodes(node))

    @staticmethod
    def _params(args: ast.arguments) -> set[str]:
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        return {a.arg for a in every if a is not None}

    def _inner(self, node, body, params) -> None:
        inner = _Scope(self.facts, self.modules, params)
        inner.visit(body)
        loads, mutated = inner.free()
        self.inner_loads |= loads
        self.inner_mutated |= mutated
        self.globals_assigned |= (inner.globals & inner.stores) | inner.globals_assigned
        name = getattr(node, "name", None)
        if name:
            self.facts.deferred_reads.setdefault(name, set()).update(loads)
            self.facts.deferred_mutates.setdefault(name, set()).update(
                mutated | (inner.globals & inner.stores)
            )

    def _mutations(self, node) -> None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            root = _root(node.func)
            if root and root not in self.modules and node.func.attr not in READ_ONLY_METHODS:
                self.mutated.add(root)
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                self.loads.add(node.target.id)
                self.mutated.add(node.target.id)
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, (ast.Attribute, ast.Subscript)):
                    root = _root(sub)
                    if root:
                        self.mutated.add(root)

    def _facts_of(self, node) -> None:
        """Global state, file names and what makes the cell undecidable."""
        facts = self.facts
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            facts.files |= path_tokens(node.value)
            if len(node.value) <= 100 and not any(c.isspace() for c in node.value):
                facts.words.add(node.value.strip("/"))
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                head = first.value.rsplit("/", 1)[0] if "/" in first.value else ""
                facts.files |= path_tokens(head + "/") if head else set()
        elif isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            facts.opaque = facts.opaque or "a star import"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any(n.split(".")[0] in OPAQUE_MODULES for n in names):
                facts.opaque = facts.opaque or f"imports {names[0].split('.')[0]}"
        elif isinstance(node, ast.Name) and node.id in OPAQUE_CALLS:
            what = "a magic or shell escape" if node.id == "get_ipython" else f"{node.id}()"
            facts.opaque = facts.opaque or what
        elif isinstance(node, ast.Attribute) and node.attr in OPAQUE_ATTRIBUTES:
            if node.attr != "modules" or _dotted(node) == "sys.modules":
                facts.opaque = facts.opaque or node.attr
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("getattr", "setattr", "delattr", "hasattr") and node.args:
                name = node.args[1] if len(node.args) > 1 else None
                constant = isinstance(name, ast.Constant)
                if not constant and (
                    node.func.id in ("setattr", "delattr") or _root(node.args[0]) in self.modules
                ):
                    facts.opaque = facts.opaque or f"{node.func.id}() with a computed name"
                if node.func.id in ("setattr", "delattr"):
                    root = _root(node.args[0])
                    if root:
                        self.mutated.add(root)
        if isinstance(node, (ast.Attribute, ast.Name)) and not facts.global_state:
            dotted = _dotted(node)
            if dotted:
                head, _, rest = dotted.partition(".")
                full = self.modules.get(head, head) + ("." + rest if rest else "")
                full = full.replace("tensorflow.keras.", "keras.", 1)
                facts.global_state = any(
                    full == g or full.startswith(g + ".") for g in GLOBAL_STATE
                )


def imports(sources: list[str]) -> dict[str, str]:
    """``{name: module path}`` of every name bound by an import in any of ``sources``."""
    out: dict[str, str] = {}
    for source in sources:
        try:
            tree = ast.parse(transform(source))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    out[a.asname or a.name.split(".")[0]] = (
                        a.name if a.asname else a.name.split(".")[0]
                    )
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    if a.name != "*":
                        out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def analyse(source: str, modules: dict[str, str] | None = None) -> Facts:
    """The ``Facts`` of one cell; ``modules`` maps import aliases to modules (``imports``).

    A cell that does not parse does nothing (it fails before running a line).
    """
    key = tuple(sorted((modules or {}).items()))
    return copy.deepcopy(_analyse(source, key))


@lru_cache(maxsize=4096)
def _analyse(source: str, key: tuple[tuple[str, str], ...]) -> Facts:
    modules = dict(key)
    facts = Facts()
    try:
        tree = ast.parse(transform(source))
    except (SyntaxError, ValueError):
        return facts
    bound: set[str] = set()
    for statement in tree.body:
        scope = _Scope(facts, modules)
        scope.visit([statement])
        targets = set()
        if isinstance(statement, (ast.For, ast.AsyncFor)):
            targets = _target_names(statement.target)
        elif isinstance(statement, (ast.With, ast.AsyncWith)):
            for item in statement.items:
                if item.optional_vars is not None:
                    targets |= _target_names(item.optional_vars)
        reads = (scope.loads - targets) | scope.inner_loads
        facts.reads |= reads - bound
        facts.mutates |= (scope.mutated | scope.inner_mutated) - bound
        facts.defines |= scope.stores | scope.globals_assigned
        kills = _kills(statement)
        facts.kills |= kills
        bound |= kills
    return facts


def _kills(statement) -> set[str]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in statement.names if a.name != "*"}
    targets = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        targets = [statement.target]
    out = set()
    for target in targets:
        if isinstance(target, ast.Name):
            out.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            out |= {e.id for e in target.elts if isinstance(e, ast.Name)}
    return out
