"""Delegation to everything importable: a submission whose answers are whatever ``course_utils``
computes.

``HELPER`` is the source of a cell added right after the Setup cells. It defines
``_delegate_all(name)``, which returns a function that, called with any arguments, tries every
callable defined in a ``course_utils`` module (``pkgutil.walk_packages``, private functions and
classes included, ``obj.__module__`` starting with ``course_utils``), those whose name shares a
word with ``name`` first, and returns the first result that neither raises nor is trivial
(``None``, a bool such as a ``check_*`` returns, or one of the arguments handed back, possibly
converted to an array). Callables with obvious side effects are skipped (``SKIP``: resetting
the session, installing, downloading, writing files, starting servers, drawing, the grading
hooks themselves), and each call is cut off after ``LIMIT`` seconds where a timer can
interrupt it.

``answer(source)`` is the answer cell that replaces an instructor answer: every function the
cell defines becomes ``NAME = _delegate_all("NAME")``; a cell that defines a class is left
blank (``raise NotImplementedError``), since binding a class name to each ``course_utils``
class in turn proves nothing. If such a submission scores points on an exercise, some
``course_utils`` callable computes its answer: a leak.
"""

from __future__ import annotations

import ast

#: Parts of a callable's name that mark a side effect (or the grading machinery itself).
SKIP = (
    "reset_session",
    "require",
    "check_tensorflow",
    "tensorflow_problem",
    "load_",
    "download",
    "cached_weights",
    "mobilenet",
    "choose_weights",
    "explain_weights",
    "keras_cache",
    "write",
    "save",
    "start_",
    "stop_",
    "show_",
    "serve",
    "port",
    "tensorboard",
    "plot",
    "draw",
    "probe",
    "expect",
    "constrain",
    "_record",
    "_take",
)

#: Seconds one candidate may run before a timer interrupts it (main thread only).
LIMIT = 8

HELPER = f"""\
import inspect as _da_inspect
import pkgutil as _da_pkgutil
import signal as _da_signal
import threading as _da_threading
import importlib as _da_importlib

import course_utils as _da_course_utils

_DA_CHAPTER = "{{chapter}}"
_DA_SKIP = {SKIP!r}
_DA_LIMIT = {LIMIT!r}
_DA_CANDIDATES = []


class _DaTimeout(BaseException):  # not swallowed by `except Exception`
    pass


def _da_candidates():
    if _DA_CANDIDATES:
        return _DA_CANDIDATES
    seen = set()
    infos = _da_pkgutil.walk_packages(_da_course_utils.__path__, "course_utils.")
    for module_name in ["course_utils"] + sorted(i.name for i in infos):
        try:
            module = _da_importlib.import_module(module_name)
        except Exception:
            continue
        for attr, obj in sorted(vars(module).items()):
            if not callable(obj) or id(obj) in seen:
                continue
            if not str(getattr(obj, "__module__", "")).startswith("course_utils"):
                continue
            if isinstance(obj, type) and issubclass(obj, BaseException):
                continue
            if any(part in attr.lower() for part in _DA_SKIP):
                continue
            seen.add(id(obj))
            _DA_CANDIDATES.append((f"{{module_name}}.{{attr}}", obj))
    return _DA_CANDIDATES


def _da_words(text):
    return {{w for w in text.lower().split("_") if len(w) > 2}}


def _da_same(value, args):
    import numpy

    for arg in args:
        if value is arg:
            return True
        try:
            a, b = numpy.asarray(value), numpy.asarray(arg)
            if a.dtype != object and a.shape == b.shape and numpy.array_equal(a, b):
                return True
        except Exception:
            pass
    return False


def _da_alarm(signum, frame):
    raise _DaTimeout()


def _da_call(fn, args, kwargs):
    timed = _da_threading.current_thread() is _da_threading.main_thread()
    if timed:
        old = _da_signal.signal(_da_signal.SIGALRM, _da_alarm)
        _da_signal.setitimer(_da_signal.ITIMER_REAL, _DA_LIMIT)
    try:
        return fn(*args, **kwargs)
    finally:
        if timed:
            _da_signal.setitimer(_da_signal.ITIMER_REAL, 0)
            _da_signal.signal(_da_signal.SIGALRM, old)


_DA_ANSWERED = {{}}


def _delegate_all(name):
    wanted = _da_words(name)

    def delegate(*args, **kwargs):
        ranked = sorted(
            _da_candidates(),
            key=lambda c: (
                -len(wanted & _da_words(c[0].rsplit(".", 1)[1])),
                not c[0].startswith(f"course_utils.checks.{{_DA_CHAPTER}}."),
                isinstance(c[1], type),
            ),
        )
        for label, fn in ranked:
            try:
                _da_inspect.signature(fn).bind(*args, **kwargs)
            except (TypeError, ValueError):
                continue
            try:
                value = _da_call(fn, args, kwargs)
            except (Exception, _DaTimeout):
                continue
            if value is None or isinstance(value, bool) or _da_same(value, list(args) + list(kwargs.values())):
                continue
            if _DA_ANSWERED.get(name) != label:
                _DA_ANSWERED[name] = label
                print(f"[delegate_all] {{name}} <- {{label}}")
            return value
        raise NotImplementedError(f"no course_utils callable answers {{name}}")

    delegate.__name__ = name
    return delegate
"""


def helper(chapter: str) -> str:
    """The helper cell for chapter ``chapter`` (``"ch00"``): its own checks module goes first."""
    return HELPER.replace("{chapter}", chapter)


def answer(source: str) -> str:
    """The delegating answer cell that replaces the answer cell ``source``."""
    tree = ast.parse(source)
    if any(isinstance(node, ast.ClassDef) for node in tree.body):
        return "raise NotImplementedError"
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not names:
        return "raise NotImplementedError"
    return "\n".join(f"{name} = _delegate_all({name!r})" for name in names)


def delegates(source: str) -> bool:
    """Whether ``answer(source)`` delegates anything (the cell defines a function, no class)."""
    return answer(source) != "raise NotImplementedError"
