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

# Chapter modules register their checks below (each defines __all__).
from course_utils.checks import ch00 as _ch00  # noqa: E402
from course_utils.checks import ch01 as _ch01  # noqa: E402
from course_utils.checks import ch02 as _ch02  # noqa: E402


def _export(module) -> None:
    for name in module.__all__:
        globals()[name] = getattr(module, name)
        __all__.append(name)


for _module in (_ch00, _ch01, _ch02):
    _export(_module)
del _module
