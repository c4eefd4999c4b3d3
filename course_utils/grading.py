"""Probes and expectations: how a hidden test hands plain data to the grader.

A grade cell's hidden block (``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``) is written
with these statements only (``python -m autograder lint`` enforces it)::

    from course_utils.grading import constrain, expect, probe
    hidden_logits = np.random.default_rng(7).normal(size=(4, 5)).astype("float32")
    probe("big", stable_softmax(tf.constant(hidden_logits)))       # the student's value
    expect("big", ref_softmax(hidden_logits), atol=1e-6)           # the value it must match
    constrain(forbid=["softmax"], message="...")                   # data read from the source

``python -m autograder grade`` sends the student's kernel only what the probes need, takes the
probed values back as plain data, computes every ``expect`` in a separate kernel that never ran
student code, and compares the two in the grading process with :func:`compare`. Stock
``nbgrader autograde`` runs the whole block in one kernel: there ``expect`` compares at once
and raises ``AssertionError``. This module holds no answer: only the recording, the plain-data
encoding and the comparison.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["compare", "constrain", "expect", "probe", "to_plain"]

#: Probed values of this kernel, keyed by the probe's key (plain data, see ``to_plain``).
_probed: dict[str, Any] = {}
#: Errors of probe statements that raised, keyed by the probe keys they held.
_errors: dict[str, str] = {}
#: ``expect`` records here instead of comparing when the grader's reference kernel runs.
_recording: dict[str, Any] | None = None

#: How a value may be compared: numbers and arrays within a tolerance, anything exactly, or
#: against a bound (``expect("acc", 0.8, cmp=">=")``: the probed value must be >= 0.8).
COMPARISONS = ("close", "equal", ">=", "<=")
MAX_ITEMS = 1_000_000  # numbers one probe may hand back


class NotPlainData(TypeError):
    """A probed value that is not numbers, strings, arrays or lists/dicts of them."""


def to_plain(value: Any, _depth: int = 0) -> Any:
    """``value`` as JSON-ready plain data: arrays and tensors become ``{"array": ..., "shape":
    ..., "dtype": ...}``, NaN and infinities ``{"float": "nan"}``, tuples lists.

    Raises :class:`NotPlainData` for anything else (a model, a function, an object that
    pretends to equal everything): a hidden test hands back numbers, never objects.
    """
    if _depth > 20:
        raise NotPlainData("nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (list, tuple)):
        return [to_plain(v, _depth + 1) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise NotPlainData("dict keys must be strings")
        return {k: to_plain(v, _depth + 1) for k, v in sorted(value.items())}
    if type(value).__module__.startswith(("tensorflow", "keras")) and hasattr(value, "numpy"):
        return to_plain(np.asarray(value.numpy()), _depth + 1)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        if value.size > MAX_ITEMS:
            raise NotPlainData(f"array of {value.size} numbers is too large")
        flat = value.astype("float64").ravel()
        items = [v if math.isfinite(v) else {"float": repr(v)} for v in flat.tolist()]
        kind = "bool" if value.dtype.kind == "b" else "int" if value.dtype.kind in "iu" else "float"
        return {"array": items, "shape": list(value.shape), "dtype": kind}
    raise NotPlainData(f"cannot hand back a {type(value).__name__}: probe numbers, not objects")


def probe(key: str, value: Any) -> Any:
    """Record ``value`` (what the student's code computed) under ``key``; return it."""
    _probed[key] = to_plain(value)
    _errors.pop(key, None)  # a key reused by a later grade cell starts afresh
    return value


def expect(key: str, reference: Any, *, atol: float = 1e-6, rtol: float = 1e-5, cmp: str = "close"):
    """The probe ``key`` must match ``reference`` (see :func:`compare` for ``cmp``).

    In the grader's reference kernel this records ``reference``; anywhere else (stock nbgrader)
    it compares at once and raises ``AssertionError`` on a mismatch, without showing values.
    """
    spec = {"atol": float(atol), "rtol": float(rtol), "cmp": cmp}
    if cmp not in COMPARISONS:
        raise ValueError(f"cmp must be one of {COMPARISONS}, not {cmp!r}")
    expected = to_plain(reference)
    if _recording is not None:
        _recording[key] = {"value": expected, **spec}
        return
    if key in _errors:
        raise AssertionError(f"hidden test {key!r} failed: {_errors[key]}")
    if key not in _probed:
        raise AssertionError(f"hidden test {key!r} failed: nothing was probed")
    ok, why = compare(_probed[key], expected, spec)
    if not ok:
        raise AssertionError(f"hidden test {key!r} failed: {why}")


def constrain(**rule: Any) -> None:
    """A constraint of the exercise, as data (``forbid=[...]``, ``require=[...]``,
    ``message=...``). The grader reads it from the source and judges the student's code with
    it; at run time it does nothing."""


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"float"}:
        return float(value["float"])
    if isinstance(value, dict) and set(value) == {"array", "shape", "dtype"}:
        data = [_decode(v) for v in value["array"]]
        return np.asarray(data, dtype="float64").reshape(value["shape"])
    return value


def _numeric(value: Any) -> np.ndarray | None:
    """``value`` as a float64 array when it is a number, an array or a list of numbers."""
    value = _decode(value)
    if isinstance(value, bool):
        return None
    try:
        arr = np.asarray(
            [_decode(v) for v in value] if isinstance(value, list) else value, dtype="float64"
        )
    except (TypeError, ValueError):
        return None
    return arr if arr.dtype.kind == "f" else None


def compare(actual: Any, expected: Any, spec: dict) -> tuple[bool, str]:
    """Does the probed plain value ``actual`` meet the expectation (``expected``, ``spec``)?

    ``spec["cmp"]``: ``"close"`` (same shape, finite, within ``atol`` + ``rtol`` x |expected|;
    strings, booleans and other plain data must be equal), ``"equal"`` (exactly equal plain
    data), ``">="`` / ``"<="`` (a number on the right side of the bound). Returns ``(ok, why)``;
    ``why`` names no expected value.
    """
    cmp = spec.get("cmp", "close")
    if cmp == "equal":
        return (actual == expected, "" if actual == expected else "value differs")
    a, e = _numeric(actual), _numeric(expected)
    if cmp in (">=", "<="):
        if a is None or a.shape != () or not np.isfinite(a):
            return False, "not a finite number"
        ok = bool(a >= e) if cmp == ">=" else bool(a <= e)
        return ok, "" if ok else "out of the expected range"
    if a is None or e is None:
        if isinstance(actual, list) and isinstance(expected, list):
            if len(actual) != len(expected):
                return False, "wrong length"
            for x, y in zip(actual, expected):
                ok, why = compare(x, y, spec)
                if not ok:
                    return False, why
            return True, ""
        if isinstance(actual, dict) and isinstance(expected, dict) and "array" not in expected:
            if sorted(actual) != sorted(expected):
                return False, "different keys"
            for k in expected:
                ok, why = compare(actual[k], expected[k], spec)
                if not ok:
                    return False, why
            return True, ""
        return (actual == expected, "" if actual == expected else "value differs")
    if a.shape != e.shape:
        return False, f"shape {a.shape} instead of {e.shape}"
    # NaN and infinities must sit where the expected value has them (and be the same kind).
    if not np.array_equal(np.isfinite(a), np.isfinite(e)) or not np.array_equal(
        a[~np.isfinite(a)], e[~np.isfinite(e)], equal_nan=True
    ):
        return False, "NaN or Inf where a number belongs (or the other way round)"
    ok = bool(
        np.allclose(a, e, rtol=spec.get("rtol", 1e-5), atol=spec.get("atol", 1e-6), equal_nan=True)
    )
    return ok, "" if ok else "values differ"


def _failed(keys: list[str], exc: BaseException) -> None:
    """A probe statement raised (called by the grader's wrapper around each statement)."""
    text = f"{type(exc).__name__}: {exc}".splitlines()[0][:200] if str(exc) else type(exc).__name__
    for key in keys:
        _errors[key] = text
        _probed.pop(key, None)


def _take() -> str:
    """The probed values and errors since the last call, as JSON; clears them (grader)."""
    data = {"probed": dict(_probed), "errors": dict(_errors)}
    _probed.clear()
    _errors.clear()
    return json.dumps(data, allow_nan=False)


def _record(into: dict) -> None:
    """Make ``expect`` record into ``into`` (the grader's reference kernel)."""
    global _recording
    _recording = into
