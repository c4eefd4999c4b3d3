"""Hostile students of the guard fixture chapter ``source/91_guard.ipynb``, as they would write them.

Each entry maps a student id to the cells they changed: ``answer:<grade_id>`` replaces that
answer cell's code, ``setup`` replaces the read-only Setup cell, ``after:<grade_id>`` adds a code
cell after that cell, ``end`` appends a code cell, ``markdown`` appends a markdown cell.
``ANSWERS`` holds the correct answers, for students who also solve the exercises.

Every trick here, tried on the grader before issue 9 or issue 16, gave marks (or leaked the
hidden tests); ``tests/autograder/test_verdicts.py`` grades them all in one
``python -m autograder grade`` call.
"""

from __future__ import annotations

import copy
import uuid

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

ANSWERS = {
    "answer:ch91_scale": 'def scale(x, k):\n    return np.asarray(x, dtype="float64") * k',
    "answer:ch91_total": "def total(xs):\n    return float(sum(xs))",
}

# Empties every later cell, grade cells included: they "pass" without running anything.
BLANK_TRANSFORMER = "get_ipython().input_transformers_post.append(lambda lines: [])"

# Wraps every statement of every later cell in try/except: failing asserts are swallowed.
SWALLOW_AST = """import ast


class Swallow(ast.NodeTransformer):
    def visit_Module(self, node):
        handler = ast.ExceptHandler(type=None, name=None, body=[ast.Pass()])
        node.body = [
            ast.Try(body=[stmt], handlers=[handler], orelse=[], finalbody=[]) for stmt in node.body
        ]
        return ast.fix_missing_locations(node)


get_ipython().ast_transformers.append(Swallow())"""

# Grade cells look names up in the student's namespace and modules.
MONKEYPATCH = """def scale(x, k):
    return [3.0, 6.0]


checks.check_close = lambda *args, **kwargs: True
np.shape = lambda value: (2, 3)
np.allclose = lambda *args, **kwargs: True
import course_utils.checks._core as core

core.check_close.__code__ = (lambda *args, **kwargs: True).__code__"""

# An always-equal result, and the builtins the grade cell uses shadowed so it "checks out".
SHADOW_BUILTINS = """class Anything(float):
    def __eq__(self, other):
        return True


def total(xs):
    return Anything(0)


float = lambda value: 6.0
isinstance = lambda value, kind: True"""

SHADOW_BUILTINS_MODULE = """import builtins

real_isinstance = builtins.isinstance
builtins.isinstance = lambda value, kind: kind is float or real_isinstance(value, kind)"""

# Errors swallowed before they are shown: no error output, although the cell failed.
SILENT_ERRORS = """ip = get_ipython()
ip.set_custom_exc((Exception,), lambda shell, etype, value, tb, tb_offset=None: None)
ip.showtraceback = lambda *args, **kwargs: None"""

# A fake checks module bound in the Setup cell and again in an answer cell.
FAKE_CHECKS = """import numpy as np
import tensorflow as tf

import course_utils


class checks:
    @staticmethod
    def check_close(*args, **kwargs):
        return True


print("setup done")"""

HOOKS = """import sys as system


def quiet_tracer(frame, event, arg):
    return None


system.settrace(quiet_tracer)
get_ipython().events.register("pre_run_cell", lambda info: None)"""

# Reads the hidden tests: a pre_run_cell hook, a spy thread over linecache that prints and
# rewrites an earlier output with update_display, and a last cell printing IPython's caches.
LEAK_HOOK = """import linecache
import threading
import time

from IPython.display import HTML, display


def show_cell(info):
    print("RAW CELL:", info.raw_cell)


get_ipython().events.register("pre_run_cell", show_cell)
leak_handle = display(HTML("spy waiting"), display_id="leak")


def spy():
    while True:
        try:
            cells = [v for k, v in list(linecache.cache.items()) if "ipykernel" in str(k)]
            text = " ".join("".join(entry[2]) for entry in cells[-3:] if len(entry) > 2)
            leak_handle.update(HTML(text[-20000:]))
            print(text[-20000:])
        except Exception as error:
            print("spy:", error)
        time.sleep(0.05)


threading.Thread(target=spy, daemon=True).start()"""

LEAK_LAST = """import linecache

time.sleep(0.5)
print("LINECACHE:", list(linecache.cache.items()))
print("HISTORY:", In, _ih)"""

# After a passing grade cell, the answer is replaced by a broken one: the hidden tests must
# still see the namespace the grade cell saw.
REDEFINE_LATER = """def scale(x, k):
    raise RuntimeError("changed my mind")"""

BIG_UPDATE = """from IPython.display import HTML, Javascript, display

handle = display(HTML("small"), display_id="big")
handle.update(HTML("<b>" + "A" * 5_000_000 + "</b>"))
display(HTML("<script>alert('xss-html')</script><img src=x onerror=\\"alert('xss-onerror')\\">"))
display(Javascript("alert('xss-js')"))"""

MARKDOWN_XSS = (
    "我的笔记 <script>alert('xss-md')</script>\n\n"
    "[点我](javascript:alert('xss-link'))\n\n<img src=x onerror=\"alert('xss-md-img')\">"
)

MAGICS = "%pip --version\n!echo shell escape"

# Issue 16: the kernel hands back whatever it likes as "probed values" ...
FORGE_TAKE = """import json

import course_utils.grading as grading

grading._take = lambda: json.dumps(
    {"probed": {"scaled": [3.0, 6.0], "sum": 6.0}, "errors": {}}
)"""

# ... replies `ok` to every request without running anything (the completion-token trick) ...
FAKE_EXECUTE = """kernel = get_ipython().kernel
real_execute = kernel.do_execute


def do_execute(code, silent, store_history=True, user_expressions=None, allow_stdin=False, **kw):
    return {
        "status": "ok",
        "execution_count": kernel.execution_count,
        "payload": [],
        "user_expressions": {
            name: {"status": "ok", "data": {"text/plain": repr('{"probed": {}, "errors": {}}')},
                   "metadata": {}}
            for name in (user_expressions or {})
        },
    }


kernel.do_execute = do_execute
kernel.shell_handlers["execute_request"] = kernel.execute_request"""

# ... watches everything compiled in it (an audit hook cannot be removed) and prints it, to
# learn the expected values ...
AUDIT_SPY = """import sys

seen = []


def spy(event, args):
    if event == "compile" and args and isinstance(args[0], (str, bytes)):
        seen.append(args[0] if isinstance(args[0], str) else args[0].decode(errors="replace"))


sys.addaudithook(spy)"""

AUDIT_PRINT = """print("SEEN:", "\\n---\\n".join(seen))"""

# ... forges the recorded values from a thread, serves a fake grading module through the import
# machinery, and hides it all behind getattr/exec of an encoded string, which the scan must see.
THREAD_FORGER = """import threading
import time

import course_utils.grading as grading


def forge():
    while True:
        grading._probed.update({"scaled": [3.0, 6.0], "sum": 6.0})
        grading._errors.clear()
        time.sleep(0.001)


threading.Thread(target=forge, daemon=True).start()"""

FAKE_MODULE = """import base64
import sys
import types

fake = types.ModuleType("course_utils.grading")
fake.probe = lambda key, value: value
fake._failed = lambda keys, exc: None
fake._take = lambda: '{"probed": {"scaled": [3.0, 6.0], "sum": 6.0}, "errors": {}}'
sys.modules["course_utils.grading"] = fake
getattr(__builtins__, "ex" + "ec")(base64.b64decode("cHJpbnQoJ2hpZGRlbicp").decode())"""

STUDENTS: dict[str, dict[str, str]] = {
    "forge_take": {"after:ch91_setup": FORGE_TAKE},
    "fake_execute": {"after:ch91_setup": FAKE_EXECUTE},
    "audit_spy": {**ANSWERS, "after:ch91_setup": AUDIT_SPY, "end": AUDIT_PRINT},
    "thread_forger": {"after:ch91_setup": THREAD_FORGER},
    "fake_module": {"after:ch91_setup": FAKE_MODULE},
    "blank_transformer": {"after:ch91_setup": BLANK_TRANSFORMER},
    "swallow_ast": {"after:ch91_setup": SWALLOW_AST},
    "monkeypatch": {"answer:ch91_scale": MONKEYPATCH},
    "shadow_builtins": {
        "answer:ch91_total": SHADOW_BUILTINS,
        "after:ch91_total": SHADOW_BUILTINS_MODULE,
    },
    "silent_errors": {"after:ch91_setup": SILENT_ERRORS + "\n\n" + HOOKS},
    "fake_checks": {
        "setup": FAKE_CHECKS,
        "answer:ch91_scale": "def scale(x, k):\n    return [3.0, 6.0]\n\n\nchecks = None",
    },
    "leak": {**ANSWERS, "after:ch91_setup": LEAK_HOOK, "end": LEAK_LAST},
    "reports": {
        **ANSWERS,
        "end": REDEFINE_LATER + "\n\n\n" + BIG_UPDATE + "\n" + MAGICS,
        "markdown": MARKDOWN_XSS,
    },
    # Loops in its answer: the calibrated limit stops it in seconds, not minutes.
    "loop": {
        "answer:ch91_scale": "while True:\n    pass",
        "answer:ch91_total": ANSWERS["answer:ch91_total"],
    },
}


def _nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def build(blank, changes: dict[str, str]):
    """The student copy ``blank`` with ``changes`` applied (see the module doc)."""
    nb = copy.deepcopy(blank)
    for where, source in changes.items():
        kind, _, gid = where.partition(":")
        if kind == "answer":
            next(c for c in nb.cells if _nbg(c).get("grade_id") == gid).source = source
        elif kind == "setup":
            next(
                c for c in nb.cells if _nbg(c).get("grade_id", "").endswith("_setup")
            ).source = source
        elif kind == "after":
            index = next(i for i, c in enumerate(nb.cells) if _nbg(c).get("grade_id") == gid)
            nb.cells.insert(index + 1, new_code_cell(source, id=f"s-{uuid.uuid4().hex[:8]}"))
        elif kind == "end":
            nb.cells.append(new_code_cell(source, id=f"s-{uuid.uuid4().hex[:8]}"))
        elif kind == "markdown":
            nb.cells.append(new_markdown_cell(source, id=f"m-{uuid.uuid4().hex[:8]}"))
        else:
            raise ValueError(where)
    return nb


def write_class(root, blank) -> None:
    """Write ``<root>/<student>/91_guard.ipynb`` for every student above."""
    for student, changes in STUDENTS.items():
        path = root / student / "91_guard.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build(blank, changes), str(path))
