"""Course-wide settings: the size switch, seeding, version checks and the Colab bootstrap.

Nothing here runs on import; notebooks call these functions in their Setup cell.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TypeVar

#: The course repository. This is the one place the URL lives: ``scripts/sync_repo_url.py``
#: copies it into every notebook's Colab bootstrap and badge, and a test fails on drift.
#: A fork changes this line and runs ``python scripts/sync_repo_url.py``.
REPO_URL = "https://github.com/keras-deep-dive/keras-deep-dive"
#: The branch the Colab badges and bootstrap point at.
REPO_BRANCH = "main"

SIZES = ("small", "full")
T = TypeVar("T")


def course_size() -> str:
    """Return ``"small"`` or ``"full"``: how much data and how many epochs notebooks use.

    ``$COURSE_SIZE`` wins when set. Otherwise the size is ``"small"`` while nbgrader executes a
    notebook (it sets ``$NBGRADER_EXECUTION``) and ``"full"`` for a student at the keyboard.
    """
    value = os.environ.get("COURSE_SIZE", "").strip().lower()
    if value:
        if value not in SIZES:
            raise ValueError(f"COURSE_SIZE={value!r} is not valid: use one of {', '.join(SIZES)}")
        return value
    if os.environ.get("NBGRADER_EXECUTION"):
        return "small"
    return "full"


def is_small() -> bool:
    """True when the course runs at small size (tests, grading)."""
    return course_size() == "small"


def pick(small: T, full: T) -> T:
    """Return ``small`` or ``full`` according to :func:`course_size`.

    Notebooks use it for sample counts and epochs, so every size runs the same cells:
    ``epochs = pick(small=1, full=10)``.
    """
    return small if is_small() else full


def reset_session(seed: int = 42) -> None:
    """Clear Keras' global state and seed Python, NumPy and the backend (used by every chapter)."""
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)


def _version_tuple(text: str) -> tuple[int, ...]:
    """``"2.16.0rc1"`` -> ``(2, 16, 0)``: the leading numeric release part only."""
    parts = []
    for piece in text.split("+")[0].split("."):
        match = re.match(r"\d+", piece)
        if not match:
            break
        parts.append(int(match.group()))
        if match.end() != len(piece):  # "0rc1": a pre-release tag ends the release part
            break
    return tuple(parts)


def installed_version(module: str) -> str | None:
    """The version of the importable module ``module`` (``None`` when it cannot be imported).

    Asks the module itself (``tensorflow.__version__``), not the distribution's name, so that
    ``tensorflow-cpu``, ``tf-nightly`` or a vendor build count as TensorFlow.
    """
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    version = getattr(mod, "__version__", None)
    if version is None:
        from importlib import metadata

        try:
            version = metadata.version(module.replace("_", "-"))
        except metadata.PackageNotFoundError:
            return None
    return str(version)


def require(**minimums: str) -> dict[str, str]:
    """Check installed package versions, e.g. ``require(tensorflow="2.16", keras="3.0")``.

    Returns the installed versions. Raises ``RuntimeError`` with a message in Chinese and
    English that says what to install when a package is missing or too old.
    """
    found: dict[str, str] = {}
    problems = []
    for name, minimum in minimums.items():
        dist = name.replace("_", "-")
        version = installed_version(name)
        if version is None:
            problems.append(f"{dist}: 未安装 (not installed), 需要 >= {minimum}")
            continue
        found[dist] = version
        if _version_tuple(version) < _version_tuple(minimum):
            problems.append(f"{dist}: 已安装 {version}, 需要 >= {minimum}")
    if problems:
        wanted = " ".join(f'"{n.replace("_", "-")}>={v}"' for n, v in minimums.items())
        raise RuntimeError(
            "版本不满足课程要求 (package versions too old for this course):\n  "
            + "\n  ".join(problems)
            + f"\n修复 (fix): pip install -U {wanted}  然后重启内核 (then restart the kernel)"
        )
    return found


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def pip_spec() -> str:
    """The pip requirement that installs this package from the course repository (Colab)."""
    return f"keras-deep-dive @ git+{REPO_URL}@{REPO_BRANCH}"


def colab_badge_url(relative_path: str) -> str:
    """The "Open in Colab" link for a notebook path relative to the repository root."""
    slug = REPO_URL.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{slug}/blob/{REPO_BRANCH}/{relative_path}"
