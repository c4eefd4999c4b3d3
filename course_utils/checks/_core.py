"""Building blocks for exercise checks: plain-data comparisons with targeted Chinese feedback.

A check raises :class:`CheckFailed` (an ``AssertionError``, so nbgrader scores the cell 0)
with a short message that names the likely mistake. When it passes it prints one line (``✅ ...``,
from :func:`passed`) and returns ``None``, so a check cell shows that line and no ``Out:`` value.
The ``_ensure_*`` helpers are the silent forms that chapter checks build on.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class CheckFailed(AssertionError):
    """An exercise check failed; the message says what is probably wrong (in Chinese)."""


def fail(message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` prefixed by a marker students can spot."""
    raise CheckFailed(f"❌ {message}")


def passed(message: str = "通过 (passed)") -> None:
    """Print the one success line of a check (``✅ message``)."""
    print(f"✅ {message}")


def to_numpy(value: Any, name: str = "结果") -> np.ndarray:
    """Convert a tensor, list or number to a NumPy array, or fail with a clear message."""
    if value is None:
        fail(f"{name} 是 None：函数是否忘了 return？")
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    try:
        return np.asarray(value)
    except Exception as exc:  # pragma: no cover - exotic objects
        fail(f"{name} 无法转换成数组 ({type(value).__name__}): {exc}")
    raise AssertionError("unreachable")


def _ensure_type(value: Any, expected: type | tuple[type, ...], name: str = "结果") -> None:
    """Fail unless ``value`` is an instance of ``expected`` (silent on success)."""
    if not isinstance(value, expected):
        names = (
            " 或 ".join(t.__name__ for t in expected)
            if isinstance(expected, tuple)
            else expected.__name__
        )
        fail(f"{name} 的类型应为 {names}，实际是 {type(value).__name__}")


def _ensure_shape(value: Any, expected: tuple, name: str = "结果") -> None:
    """Fail unless the array form of ``value`` has shape ``expected`` (``None`` matches any size;
    silent on success)."""
    shape = tuple(to_numpy(value, name).shape)
    ok = len(shape) == len(expected) and all(
        e is None or int(e) == int(s) for s, e in zip(shape, expected)
    )
    if not ok:
        fail(f"{name} 的形状应为 {tuple(expected)}，实际是 {shape}")


def all_close(a: Any, b: Any, atol: float = 1e-4, rtol: float = 1e-5) -> bool:
    """True when ``a`` and ``b`` have the same shape, ``a`` is finite and they agree within tolerance."""
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and np.allclose(a, b, rtol, atol)


def _ensure_close(
    actual: Any,
    expected: Any,
    name: str = "结果",
    rtol: float = 1e-5,
    atol: float = 1e-6,
    hint: str = "",
) -> None:
    """Fail unless ``actual`` equals ``expected`` in shape and value within tolerance (silent
    on success)."""
    a = to_numpy(actual, name).astype("float64")
    e = np.asarray(expected, dtype="float64")
    if a.shape != e.shape:
        fail(f"{name} 的形状应为 {e.shape}，实际是 {a.shape}")
    if not np.all(np.isfinite(a)):
        fail(f"{name} 中有 NaN 或 Inf")
    if not np.allclose(a, e, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(a - e))) if a.size else 0.0
        extra = f" {hint}" if hint else ""
        fail(f"{name} 的数值不对 (最大误差 {worst:.3g})。{extra}".rstrip())


def check_type(value: Any, expected: type | tuple[type, ...], name: str = "结果") -> None:
    """Fail unless ``value`` is an instance of ``expected``; print one success line."""
    _ensure_type(value, expected, name)
    passed(f"{name} 的类型正确")


def check_shape(value: Any, expected: tuple, name: str = "结果") -> None:
    """Fail unless ``value`` has shape ``expected`` (``None`` matches any size); print one line."""
    _ensure_shape(value, expected, name)
    passed(f"{name} 的形状正确")


def check_close(
    actual: Any,
    expected: Any,
    name: str = "结果",
    rtol: float = 1e-5,
    atol: float = 1e-6,
    hint: str = "",
) -> None:
    """Fail unless ``actual`` equals ``expected`` in shape and value within tolerance; print one
    success line."""
    _ensure_close(actual, expected, name, rtol=rtol, atol=atol, hint=hint)
    passed(f"{name} 正确")
