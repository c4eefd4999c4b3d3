"""TensorBoard logs without the UI: read event files, plot scalars, start and stop the server.

Used by chapters 05 and 06. Importing this module has no side effects; TensorBoard,
TensorFlow and matplotlib are imported inside the functions that need them.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "TensorBoardHandle",
    "plot_scalars",
    "read_scalars",
    "show_tensorboard",
    "start_tensorboard",
    "stop_tensorboard",
    "tensorboard_hint",
]

#: Environment variables that mean "nobody is watching": tests, CI and nbgrader.
NON_INTERACTIVE_ENV = ("NBGRADER_EXECUTION", "CI", "PYTEST_CURRENT_TEST")

# The server runs TensorBoard's own entry point. Registering ``tensorboard.compat.notf`` makes
# it skip importing TensorFlow (it only reads files), so it is up in about a second instead of
# ten. A watchdog thread exits the server when the process that started it is gone, so a
# kernel that is killed (no atexit) still leaves nothing behind.
_LAUNCHER = """\
import os, sys, threading, time, types
sys.modules["tensorboard.compat.notf"] = types.ModuleType("tensorboard.compat.notf")
parent = int(sys.argv[1])

def _watch():
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)

threading.Thread(target=_watch, daemon=True).start()
from tensorboard import main
sys.argv = ["tensorboard", *sys.argv[2:]]
main.run_main()
"""


def _event_files(logdir: Path) -> dict[str, list[Path]]:
    """``{run: [event files]}``, where run is the folder relative to ``logdir`` ("." for itself)."""
    runs: dict[str, list[Path]] = {}
    for path in sorted(logdir.rglob("*tfevents*")):
        if path.is_file():
            run = path.parent.relative_to(logdir).as_posix()
            runs.setdefault(run, []).append(path)
    return runs


def read_scalars(logdir) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read every scalar in the event files under ``logdir``.

    Handles both classic ``scalars`` events and the tensor summaries that Keras 3's
    ``TensorBoard`` callback and ``tf.summary.scalar`` write (only 0-d tensors of the
    ``scalars`` plugin are kept; histograms and model graphs are skipped).

    Returns:
        ``{"<run>/<tag>": (steps, values)}``, steps as int64 and values as float64 arrays,
        sorted by step; ``run`` is the sub-folder relative to ``logdir`` (``"train"``,
        ``"fit/validation"``), and a log written directly into ``logdir`` has the key ``tag``.
    """
    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.util import tensor_util

    logdir = Path(logdir)
    if not logdir.is_dir():
        raise FileNotFoundError(f"no log folder {logdir}")
    guidance = {ea.SCALARS: 0, ea.TENSORS: 0, ea.HISTOGRAMS: 1, ea.IMAGES: 1, ea.AUDIO: 1}
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for run, files in _event_files(logdir).items():
        points: dict[str, list[tuple[int, float]]] = {}
        for path in files:
            acc = ea.EventAccumulator(str(path), size_guidance=guidance)
            acc.Reload()
            tags = acc.Tags()
            for tag in tags.get("scalars", []):
                points.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
            for tag in tags.get("tensors", []):
                plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
                if plugin not in ("scalars", ""):
                    continue
                for e in acc.Tensors(tag):
                    value = np.asarray(tensor_util.make_ndarray(e.tensor_proto))
                    if value.ndim == 0 and np.issubdtype(value.dtype, np.number):
                        points.setdefault(tag, []).append((e.step, float(value)))
        for tag, pairs in points.items():
            pairs.sort(key=lambda p: p[0])
            key = tag if run == "." else f"{run}/{tag}"
            out[key] = (
                np.array([p[0] for p in pairs], dtype="int64"),
                np.array([p[1] for p in pairs], dtype="float64"),
            )
    return dict(sorted(out.items()))


def plot_scalars(logdir, tags=None):
    """Plot the scalars under ``logdir``: one panel per tag, one line per run.

    Args:
        logdir: the folder given to ``keras.callbacks.TensorBoard`` (or any parent of runs).
        tags: tag names to plot, e.g. ``["epoch_loss"]`` (default: every scalar tag).

    Returns the matplotlib ``Figure``. Used by chapters 05 and 06.
    """
    import matplotlib.pyplot as plt

    scalars = read_scalars(logdir)
    by_tag: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for key, series in scalars.items():
        run, _, tag = key.rpartition("/")
        by_tag.setdefault(tag, {})[run or "."] = series
    names = list(tags) if tags else sorted(by_tag)
    missing = [t for t in names if t not in by_tag]
    if missing or not names:
        raise KeyError(f"no scalar tags {missing} under {logdir}; available: {sorted(by_tag)}")
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, tag in zip(axes[0], names):
        for run, (steps, values) in sorted(by_tag[tag].items()):
            ax.plot(steps, values, "o-", markersize=3, label=run)
        ax.set_title(tag)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    plt.close(fig)  # the notebook shows the returned figure once
    return fig


@dataclass
class TensorBoardHandle:
    """A running TensorBoard server started by :func:`start_tensorboard`."""

    url: str
    port: int
    process: subprocess.Popen = field(repr=False)
    logdir: str
    log: object = field(default=None, repr=False)  # the server's stderr (a temporary file)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_tensorboard(logdir, port=None, timeout: float = 60.0) -> TensorBoardHandle:
    """Start the real ``tensorboard`` server on ``logdir`` at 127.0.0.1 and wait until it answers.

    Args:
        logdir: the log folder to serve.
        port: the port (default: a free one).
        timeout: seconds to wait for the HTTP API before giving up (and killing the server).

    Returns a handle with ``.url``, ``.port`` and ``.process``; stop it with
    :func:`stop_tensorboard` (also done automatically when Python exits).
    """
    port = int(port) if port else _free_port()
    args = [
        sys.executable,
        "-c",
        _LAUNCHER,
        str(os.getpid()),
        "--logdir",
        str(Path(logdir).resolve()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--load_fast=false",
        "--reload_interval=1",
    ]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    handle = TensorBoardHandle(f"http://127.0.0.1:{port}", port, process, str(logdir), log)
    atexit.register(stop_tensorboard, handle)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            err = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"tensorboard exited with code {process.returncode}:\n{err}")
        try:
            with urllib.request.urlopen(f"{handle.url}/data/environment", timeout=2) as r:
                if r.status == 200:
                    return handle
        except OSError:
            time.sleep(0.2)
    stop_tensorboard(handle)
    raise TimeoutError(f"tensorboard did not answer on {handle.url} within {timeout:.0f} s")


def stop_tensorboard(handle: TensorBoardHandle) -> None:
    """Stop a server from :func:`start_tensorboard` and wait until its process is gone."""
    process = handle.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if handle.log is not None and not handle.log.closed:
        handle.log.close()


def _interactive() -> bool:
    """True when a person is looking at the notebook (not tests, CI, nbgrader or a script)."""
    if os.environ.get("COURSE_TENSORBOARD", "").strip().lower() in ("off", "0", "false", "no"):
        return False
    if any(os.environ.get(name) for name in NON_INTERACTIVE_ENV):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


#: Servers started by :func:`show_tensorboard` in this process, by resolved log folder.
_SHOWN: dict[str, TensorBoardHandle] = {}


def tensorboard_hint(logdir) -> str:
    """The instruction for viewing ``logdir`` by hand (printed by :func:`show_tensorboard`)."""
    return (
        f"在 JupyterLab 或 Colab 中查看 TensorBoard：运行 `%load_ext tensorboard`，"
        f"再运行 `%tensorboard --logdir {logdir}`；"
        f"或在终端运行 `tensorboard --logdir {logdir}`，然后打开 http://localhost:6006"
    )


def show_tensorboard(logdir, height: int = 800):
    """Show TensorBoard inline for ``logdir``, or just say how to when nobody is watching.

    In JupyterLab or Colab it starts a server with :func:`start_tensorboard` (reused when the
    same folder is shown again) and embeds it with ``tensorboard.notebook.display``, the way
    ``%load_ext tensorboard`` + ``%tensorboard --logdir`` do. Unlike the magic's server, this
    one ends with the kernel: ``atexit`` stops it, and its watchdog exits it when the kernel
    process is gone (even after a kill). Under tests, CI, nbgrader (``$NBGRADER_EXECUTION``)
    or with ``COURSE_TENSORBOARD=off`` it only prints the instruction, starts nothing and
    returns ``None`` at once. Used by chapters 05 and 06.

    Returns the :class:`TensorBoardHandle` of the server shown, or ``None``.
    """
    if not _interactive():
        print(tensorboard_hint(logdir))
        return None
    from tensorboard import notebook

    key = str(Path(logdir).resolve())
    handle = _SHOWN.get(key)
    if handle is None or handle.process.poll() is not None:
        handle = _SHOWN[key] = start_tensorboard(logdir)
    notebook.display(port=handle.port, height=height)
    return handle
