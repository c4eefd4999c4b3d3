"""Exercise checks with targeted feedback, one module per chapter (``ch00``, ``ch01``, ...).

Every public check is re-exported here, so notebooks write ``checks.check_xxx(...)``.
"""

from course_utils.checks._core import (
    CheckFailed,
    check_close,
    check_shape,
    check_type,
    fail,
    passed,
    to_numpy,
)

__all__ = [
    "CheckFailed",
    "check_close",
    "check_shape",
    "check_type",
    "fail",
    "passed",
    "to_numpy",
]

# Chapter modules (``ch00.py``, ``ch01.py``, ...) are found by name and their checks
# re-exported (each module defines __all__), so adding a chapter never edits this file.
import importlib as _importlib  # noqa: E402
import pkgutil as _pkgutil  # noqa: E402


def _export(module) -> None:
    for name in module.__all__:
        if name in globals():
            raise ImportError(f"check {name!r} of {module.__name__} is defined twice")
        globals()[name] = getattr(module, name)
        __all__.append(name)


for _info in sorted(_pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("ch") and _info.name[2:].isdigit():
        _export(_importlib.import_module(f"{__name__}.{_info.name}"))
del _info
