"""Code that runs *inside* the grading kernel (never imported by the grader itself).

``ExecuteGraded`` sends this file's source to every fresh kernel before any student cell runs.
It is executed in a private namespace with a private copy of ``builtins``; ``install`` imports
what the Setup cell imports and takes a snapshot of everything a grade cell relies on
(IPython's hooks, ``sys`` hooks, ``builtins``, those modules, ``course_utils``), then defines a
class whose name carries a per-run random token. The grader reaches that class through
``object.__subclasses__()`` from an ``execute_request`` with empty code, ``silent=True`` and a
``user_expressions`` entry: IPython returns before running any input transformer, AST
transformer or ``pre_run_cell`` hook for an empty cell, and a silent request triggers no
``post_run_cell`` event, so no student hook sees the call. Every function raises when something
is wrong, so the result is read from the reply's status, not from a repr a student could format.

What it can do is limited: student code runs in the same process and could rewrite the
interpreter itself. Every such technique is also flagged by ``autograder/scan.py``; see the
threat model in ``autograder/README.md``.
"""

import builtins
import importlib
import sys
import threading
import types

_FUNCTION_TYPES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.ModuleType,
    type,
    staticmethod,
    classmethod,
    property,
)
_MISSING = object()
_STATE: dict = {}


def _public_callables(module) -> dict:
    try:
        items = list(vars(module).items())
    except TypeError:
        return {}
    # Functions, classes, modules and other callables (NumPy's functions are dispatcher
    # objects); plain data attributes are left alone, libraries legitimately change those.
    return {
        k: v
        for k, v in items
        if not k.startswith("_") and (isinstance(v, _FUNCTION_TYPES) or callable(v))
    }


def _class_dicts(obj) -> list:
    if obj is None:
        return []
    return [(cls, dict(vars(cls))) for cls in type(obj).__mro__ if cls is not object]


def _same(a, b) -> bool:
    """Two lists hold the very same objects (``==`` could be forged by ``__eq__``)."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def install(token, setup_source, checks_module, shell):
    """Import what the Setup cell imports, take the snapshot, define the guard class."""
    bindings: dict = {}
    for statement in setup_source:
        scope: dict = {"__builtins__": builtins}
        try:
            exec(compile(statement, "<autograder-setup>", "exec"), scope)
        except Exception:  # noqa: BLE001, S110 - the Setup cell itself will show the error
            continue
        bindings.update({k: v for k, v in scope.items() if k != "__builtins__"})
    watched = {}
    for value in [*bindings.values(), sys.modules.get("numpy")]:
        if isinstance(value, types.ModuleType):
            watched[value.__name__] = value
            top = value.__name__.split(".")[0]
            for sub in list(vars(value).values()):
                if isinstance(sub, types.ModuleType) and sub.__name__.split(".")[0] == top:
                    watched.setdefault(sub.__name__, sub)
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] == "course_utils" and isinstance(module, types.ModuleType):
            watched[name] = module
    extra_callbacks = set()
    try:
        import matplotlib_inline.backend_inline as inline

        for name in ("flush_figures", "configure_once"):
            if getattr(inline, name, None) is not None:
                extra_callbacks.add(id(getattr(inline, name)))
    except Exception:  # noqa: BLE001, S110 - no inline backend, nothing to allow
        pass
    manager = shell.input_transformer_manager
    _STATE.update(
        shell=shell,
        user_ns=shell.user_ns,
        bindings=bindings,
        checks_module=checks_module,
        builtins=dict(vars(builtins)),
        modules=dict(watched),
        module_dicts={name: _public_callables(m) for name, m in watched.items()},
        shell_classes=_class_dicts(shell) + _class_dicts(getattr(shell, "kernel", None)),
        shell_instance=set(vars(shell)),
        manager=manager,
        cleanup=list(manager.cleanup_transforms),
        line=list(manager.line_transforms),
        token_transformers=list(manager.token_transformers),
        post=list(shell.input_transformers_post),
        ast=list(shell.ast_transformers),
        events=shell.events,
        callbacks={k: list(v) for k, v in shell.events.callbacks.items()},
        extra_callbacks=extra_callbacks,
        custom_exceptions=shell.custom_exceptions,
        custom_tb=shell.CustomTB,
        shell_refs={
            name: getattr(shell, name)
            for name in ("displayhook", "display_pub", "display_formatter", "InteractiveTB")
            if hasattr(shell, name)
        },
        sys_refs={
            name: getattr(sys, name)
            for name in ("stdout", "stderr", "displayhook", "excepthook", "breakpointhook")
        },
        saved={},
        shadows={},
    )
    guard = type(
        f"_AutograderGuard_{token}",
        (),
        {
            "reset": staticmethod(reset),
            "after": staticmethod(after),
            "save": staticmethod(save),
            "enter": staticmethod(enter),
        },
    )
    # A strong reference, or the class would be collected (subclass lists are weak).
    holder = types.ModuleType("_autograder_guard")
    holder.guard = guard
    sys.modules[f"_autograder_guard_{token}"] = holder


def _allowed(event: str, function) -> bool:
    s = _STATE
    known = s["callbacks"].get(event, [])
    return any(function is f for f in known) or id(function) in s["extra_callbacks"]


def _restore_hooks() -> None:
    s = _STATE
    sys.settrace(None)
    sys.setprofile(None)
    threading.settrace(None)
    threading.setprofile(None)
    for name, value in s["sys_refs"].items():
        setattr(sys, name, value)
    current = vars(builtins)
    for name, value in s["builtins"].items():
        if current.get(name, _MISSING) is not value:
            current[name] = value
    # The shell's and the kernel's classes: patched or added methods are undone.
    for cls, snapshot in s["shell_classes"]:
        for name, value in list(vars(cls).items()):
            if name.startswith("__"):
                continue
            if name not in snapshot:
                if isinstance(value, _FUNCTION_TYPES):
                    delattr(cls, name)
            elif snapshot[name] is not value and isinstance(snapshot[name], _FUNCTION_TYPES):
                setattr(cls, name, snapshot[name])
        for name, value in snapshot.items():
            if not name.startswith("__") and name not in vars(cls):
                setattr(cls, name, value)
    shell = s["shell"]
    for name in list(vars(shell)):
        if name not in s["shell_instance"] and callable(getattr(type(shell), name, None)):
            delattr(shell, name)
    for name, value in s["shell_refs"].items():
        setattr(shell, name, value)
    manager = s["manager"]
    shell.input_transformer_manager = manager
    manager.cleanup_transforms = list(s["cleanup"])
    manager.line_transforms = list(s["line"])
    manager.token_transformers = list(s["token_transformers"])
    shell.input_transformers_post = list(s["post"])
    shell.ast_transformers = list(s["ast"])
    events = s["events"]
    shell.events = events
    current_callbacks = events.callbacks if isinstance(events.callbacks, dict) else {}
    rebuilt = {}
    for event, known in s["callbacks"].items():
        now = current_callbacks.get(event, [])
        now = list(now) if isinstance(now, list) else []
        kept = list(known) + [f for f in now if id(f) in s["extra_callbacks"]]
        rebuilt[event] = [f for i, f in enumerate(kept) if all(f is not g for g in kept[:i])]
    events.callbacks = rebuilt
    shell.custom_exceptions = s["custom_exceptions"]
    shell.CustomTB = s["custom_tb"]


def _restore_modules() -> None:
    s = _STATE
    for name, module in s["modules"].items():
        if sys.modules.get(name, module) is not module:
            sys.modules[name] = module
        current = vars(module)
        for attr, value in s["module_dicts"][name].items():
            if current.get(attr, _MISSING) is not value:
                current[attr] = value
    # Re-read the checks a grade cell calls from their files: a patched __code__, default or
    # helper in course_utils.checks is gone.
    package = s["modules"].get("course_utils.checks")
    if package is None:
        return
    for name in ("course_utils.checks._core", s["checks_module"]):
        module = sys.modules.get(name) if name else None
        if module is None:
            continue
        module = importlib.reload(module)
        fresh = vars(module)
        for attr, value in list(vars(package).items()):
            if getattr(value, "__module__", None) == name and attr in fresh:
                vars(package)[attr] = fresh[attr]
        for attr in getattr(module, "__all__", ()):
            vars(package)[attr] = fresh[attr]
        s["module_dicts"][name] = _public_callables(module)
    s["module_dicts"]["course_utils.checks"] = _public_callables(package)


def _tampered() -> list:
    """What changed in the hooks since the last reset (empty when nothing did)."""
    s = _STATE
    shell = s["shell"]
    problems = []
    if sys.gettrace() is not None or sys.getprofile() is not None:
        problems.append("sys.settrace/setprofile")
    if not _same(list(shell.input_transformers_post), s["post"]):
        problems.append("input_transformers_post")
    manager = shell.input_transformer_manager
    if manager is not s["manager"] or not _same(list(manager.cleanup_transforms), s["cleanup"]):
        problems.append("input_transformers_cleanup")
    if not _same(list(shell.ast_transformers), s["ast"]):
        problems.append("ast_transformers")
    if shell.custom_exceptions is not s["custom_exceptions"]:
        problems.append("set_custom_exc")
    if shell.events is not s["events"]:
        problems.append("events")
    else:
        for event, callbacks in shell.events.callbacks.items():
            if any(not _allowed(event, f) for f in callbacks):
                problems.append(f"events.register({event})")
    for name in vars(shell):
        if name not in s["shell_instance"] and callable(getattr(type(shell), name, None)):
            problems.append(f"shell.{name}")
    return problems


def reset(names=()):
    """Undo hooks and monkeypatches, re-bind the Setup names.

    ``names`` are the builtins the coming cell loads: a student variable shadowing one of them
    is moved aside until ``after`` (so the student's own later cells keep it).
    """
    s = _STATE
    _restore_hooks()
    _restore_modules()
    user_ns = s["user_ns"]
    user_ns["__builtins__"] = builtins
    for name, value in s["bindings"].items():
        user_ns[name] = value
    s["shadows"] = {}
    for name in names:
        if name in user_ns and user_ns[name] is not s["builtins"].get(name, _MISSING):
            s["shadows"][name] = user_ns.pop(name)


def after():
    """After a grade cell: give the student's shadowing variables back; raise on tampering."""
    s = _STATE
    problems = _tampered()
    s["user_ns"].update(s["shadows"])
    s["shadows"] = {}
    if problems:
        raise RuntimeError(", ".join(problems))


def save(grade_id):
    """Remember the namespace right after a passing grade cell (its hidden tests run in it)."""
    _STATE["saved"][grade_id] = dict(_STATE["user_ns"])


def enter(grade_id, names=()):
    """The namespace saved after ``grade_id``, then a reset; before its hidden tests."""
    s = _STATE
    saved = s["saved"][grade_id]
    user_ns = s["user_ns"]
    user_ns.clear()
    user_ns.update(saved)
    reset(names)
