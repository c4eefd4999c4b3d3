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
    """Clear Keras' global state and seed Python, NumPy and the backend (used by every chapter).

    Also quiets TensorFlow's Python logger to warnings: in a notebook it logs INFO lines such as
    "Assets written to ..." to stderr, which students need not read and which stock nbgrader
    counts as a failed grade cell (any stderr output scores 0)."""
    import logging

    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.get_logger().setLevel(logging.WARNING)


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


#: The oldest TensorFlow the course runs on (what Colab and many CPU servers have).
MIN_TENSORFLOW = "2.16"


def _import_error(module: str) -> str | None:
    """Why ``module`` cannot be imported: ``None`` when it imports, else one line.

    A top-level ``ModuleNotFoundError`` means "not installed" (returned as ``""``); any other
    error (an undefined symbol in a broken install, a failing sub-import) is reported as is.
    """
    import importlib

    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module.split(".")[0]:
            return ""
        return f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # ImportError with undefined symbols, AttributeError, ...
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def installed_version(module: str) -> str | None:
    """The version of the importable module ``module`` (``None`` when it cannot be imported).

    Asks the module itself (``tensorflow.__version__``), not the distribution's name, so that
    ``tensorflow-cpu``, ``tf-nightly`` or a vendor build count as TensorFlow.
    """
    import importlib

    try:
        mod = importlib.import_module(module)
    except Exception:
        return None
    version = getattr(mod, "__version__", None)
    if version is None:
        from importlib import metadata

        try:
            version = metadata.version(module.replace("_", "-"))
        except metadata.PackageNotFoundError:
            return None
    return str(version)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def tensorflow_builds() -> list[tuple[str, str]]:
    """``(distribution, version)`` of every installed build that ships the ``tensorflow`` package.

    Looks, without importing TensorFlow, at the distributions in the folder Python would import
    ``tensorflow`` from: ``tensorflow``, ``tensorflow-cpu``, ``tf-nightly``, ``intel-tensorflow``
    ... all count. Empty when TensorFlow cannot be found, or was installed without metadata.
    """
    import importlib.util

    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        return []
    site = os.path.dirname(list(spec.submodule_search_locations)[0])
    builds = []
    # Plain file reads: importlib.metadata alone takes longer to import than this whole loop.
    for entry in sorted(os.listdir(site)):
        if not entry.endswith(".dist-info"):
            continue
        folder = os.path.join(site, entry)
        top_level = _read(os.path.join(folder, "top_level.txt"))
        if top_level is not None:
            ships = "tensorflow" in top_level.split()
        else:  # no top_level.txt: look through the file list of TensorFlow-like names only
            lowered = entry.lower()
            record = _read(os.path.join(folder, "RECORD")) or ""
            ships = ("tensorflow" in lowered or lowered.startswith("tf")) and any(
                line.split(",")[0] == "tensorflow/__init__.py" for line in record.splitlines()
            )
        if ships:
            headers = {}
            for line in (_read(os.path.join(folder, "METADATA")) or "").splitlines():
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                headers.setdefault(key.strip().lower(), value.strip())
            fallback = entry.removesuffix(".dist-info").split("-", 1) + [""]
            builds.append(
                (headers.get("name") or fallback[0], headers.get("version") or fallback[1])
            )
    return sorted(builds)


def _fix_line(build: str | None = None) -> str:
    """The install line: upgrade the build that is there (``tensorflow-cpu`` stays itself)."""
    if build:
        command = f'pip install -U "{build}>={MIN_TENSORFLOW}"'
    else:
        command = f'pip install "tensorflow>={MIN_TENSORFLOW}"'
    return f"修复 (fix): {command}  然后重启内核 (then restart the kernel)"


def tensorflow_problem() -> str | None:
    """Why the installed TensorFlow cannot run the course, in Chinese and English; else ``None``.

    Checked without importing TensorFlow (``import course_utils`` stays fast): missing, older than
    :data:`MIN_TENSORFLOW`, or several builds of different versions installed over each other (what
    ``pip install tensorflow`` on top of ``tensorflow-cpu`` does, leaving neither working).
    """
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        return (
            f"课程需要 TensorFlow >= {MIN_TENSORFLOW}，但当前环境没有安装 "
            f"(TensorFlow is not installed; the course needs >= {MIN_TENSORFLOW}).\n"
            + _fix_line()
            + '\n  本地课程环境 (local course set-up): pip install -e ".[tf,course]"'
        )
    builds = tensorflow_builds()
    versions = {version for _, version in builds}
    listed = ", ".join(f"{name} {version}" for name, version in builds)
    if len(versions) > 1:
        names = " ".join(name for name, _ in builds)
        keep = min(builds, key=lambda b: _version_tuple(b[1]))
        return (
            "安装了多个互相覆盖的 TensorFlow 构建，它们共用同一个 tensorflow 文件夹，导入会出错 "
            f"(several TensorFlow builds are installed over each other: {listed}).\n"
            f"修复 (fix): 全部卸载后只装回一个 (uninstall all, reinstall one): "
            f'pip uninstall -y {names} && pip install "{keep[0]}=={keep[1]}"，'
            "然后重启内核 (then restart the kernel)"
        )
    if builds and _version_tuple(builds[0][1]) < _version_tuple(MIN_TENSORFLOW):
        return (
            f"TensorFlow 版本太旧 (TensorFlow too old): 已安装 (installed) {listed}，"
            f"课程需要 (the course needs) >= {MIN_TENSORFLOW}。\n" + _fix_line(builds[0][0])
        )
    return None


def check_tensorflow() -> None:
    """Raise ``ImportError`` with :func:`tensorflow_problem`'s message, if there is one.

    ``import course_utils`` calls it, the way ``tensorflow_datasets`` checks its TensorFlow.
    """
    problem = tensorflow_problem()
    if problem:
        raise ImportError(problem)


def _upgrade_name(module: str) -> str:
    """The distribution to upgrade for ``module``: the TensorFlow build already installed
    (``tensorflow-cpu`` stays ``tensorflow-cpu``: installing ``tensorflow`` on top breaks both)."""
    if module == "tensorflow":
        builds = tensorflow_builds()
        if len(builds) == 1:
            return builds[0][0]
    return module.replace("_", "-")


def _metadata_version(module: str) -> str | None:
    """The installed version of ``module`` read from package metadata, without importing it.

    TensorFlow is looked up by the builds that ship its folder (any build name); ``None`` when
    the metadata is missing or, for TensorFlow, when builds of different versions are installed.
    """
    if module == "tensorflow":
        versions = {version for _, version in tensorflow_builds()}
        return versions.pop() if len(versions) == 1 else None
    from importlib import metadata

    try:
        return metadata.version(module.replace("_", "-"))
    except Exception:  # PackageNotFoundError, or broken metadata
        return None


def require(**minimums: str) -> dict[str, str]:
    """Check installed package versions, e.g. ``require(tensorflow="2.16", keras="3.0")``.

    Returns the installed versions, as each imported module reports them (``tf.__version__``),
    so any TensorFlow build counts. Raises ``RuntimeError`` with a message in Chinese and
    English that says what to install when a package is missing, too old or fails to import.

    Notebooks call it before they import TensorFlow or Keras: what the installed metadata can
    tell (TensorFlow missing, too old, several builds over each other; any package too old) is
    reported without importing anything, so a broken install gets this message rather than a
    raw traceback; only then is each module imported to confirm its version.
    """
    found: dict[str, str] = {}
    problems = []
    own_fix = set()  # modules whose problem text already carries its own fix line
    tf_problem = tensorflow_problem() if "tensorflow" in minimums else None
    # TensorFlow first: Keras (and most else here) imports it.
    for name in sorted(minimums, key=lambda n: n != "tensorflow"):
        minimum = minimums[name]
        dist = name.replace("_", "-")
        if name == "tensorflow" and tf_problem:
            problems.append(tf_problem.replace("\n", "\n  "))
            own_fix.add(name)
            continue
        known = _metadata_version(name)
        if known is not None and _version_tuple(known) < _version_tuple(minimum):
            problems.append(f"{dist}: 已安装 {known}, 需要 >= {minimum}")
            continue
        if tf_problem:
            continue  # importing it would import the broken TensorFlow: fix that first
        error = _import_error(name)
        if error == "":
            problems.append(f"{dist}: 未安装 (not installed), 需要 >= {minimum}")
            continue
        if error is not None:
            problems.append(f"{dist}: 已安装但无法导入 (installed but fails to import): {error}")
            continue
        version = installed_version(name)
        if version is None:
            problems.append(f"{dist}: 无法读出版本 (no __version__), 需要 >= {minimum}")
            continue
        found[dist] = version
        if _version_tuple(version) < _version_tuple(minimum):
            problems.append(f"{dist}: 已安装 {version}, 需要 >= {minimum}")
    if problems:
        wanted = " ".join(
            f'"{_upgrade_name(n)}>={v}"' for n, v in minimums.items() if n not in own_fix
        )
        fix = (
            f"\n修复 (fix): pip install -U {wanted}  然后重启内核 (then restart the kernel)"
            if wanted and len(own_fix) < len(problems)
            else ""
        )
        raise RuntimeError(
            "版本不满足课程要求 (package versions too old for this course):\n  "
            + "\n  ".join(problems)
            + fix
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
