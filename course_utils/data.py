"""Offline-first datasets for the course.

``load_fashion_mnist()`` reads the four standard Fashion-MNIST files from the first place that
has them (see :func:`fashion_mnist_search_dirs`) and only then downloads with Keras, which is
what Colab users get. ``make_ticket_data()`` makes the synthetic customer-ticket data of
chapter 02.
"""

from __future__ import annotations

import gzip
import os
import warnings
from pathlib import Path

import numpy as np

from course_utils.config import is_small

#: Class names, in label order (used by chapters 01 and 08).
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: The file names Keras and Debian's ``dataset-fashion-mnist`` use.
FASHION_MNIST_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where full-size files may be put by hand (ignored by git).
REPO_DATA_DIR = REPO_ROOT / "data" / "fashion-mnist"
#: The small stratified subset committed to the repository (see data/README.md).
SUBSET_DIR = REPO_ROOT / "data" / "fashion-mnist-subset"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FIX_COMMAND = "sudo apt-get install dataset-fashion-mnist"


class DatasetNotFoundError(FileNotFoundError):
    """Raised when no copy of a dataset is found and downloading is off or failed."""


def fashion_mnist_search_dirs() -> list[Path]:
    """Return the folders searched for the full dataset, in order.

    ``$COURSE_DATA_DIR``, the repository's ``data/fashion-mnist``, Debian's
    ``/usr/share/datasets/fashion-mnist`` and the Keras cache ``~/.keras/datasets/fashion-mnist``.
    """
    dirs = []
    if os.environ.get("COURSE_DATA_DIR"):
        dirs.append(Path(os.environ["COURSE_DATA_DIR"]).expanduser())
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()
    dirs += [REPO_DATA_DIR, DEBIAN_DIR, keras_home / "datasets" / "fashion-mnist"]
    return dirs


def _read_idx(path: Path) -> np.ndarray:
    """Read one gzipped IDX file (the MNIST format) into a uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError(f"{path} is not a uint8 IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, dtype=np.uint8, offset=header)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: expected {shape}, got {array.size} values")
    return array.reshape(shape)


def _has_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FASHION_MNIST_FILES)


def read_fashion_mnist_dir(folder: str | Path):
    """Read the four standard files from ``folder``; returns ``((x_train, y_train), (x_test, y_test))``."""
    folder = Path(folder)
    y_train, x_train, y_test, x_test = (_read_idx(folder / n) for n in FASHION_MNIST_FILES)
    return (x_train, y_train), (x_test, y_test)


def write_fashion_mnist_dir(folder: str | Path, train, test) -> None:
    """Write arrays as the four standard gzipped IDX files (used to build the subset)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = train, test
    for name, array in zip(FASHION_MNIST_FILES, (y_train, x_train, y_test, x_test)):
        array = np.ascontiguousarray(array, dtype=np.uint8)
        header = bytes([0, 0, 8, array.ndim]) + b"".join(
            int(n).to_bytes(4, "big") for n in array.shape
        )
        # mtime=0 keeps the committed files byte-for-byte reproducible.
        with (
            open(folder / name, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f,
        ):
            f.write(header + array.tobytes())


def load_fashion_mnist(subset: bool | None = None, download: bool = True):
    """Load Fashion-MNIST as ``((x_train, y_train), (x_test, y_test))`` uint8 arrays.

    Shapes match ``keras.datasets.fashion_mnist.load_data()``: images ``(n, 28, 28)``, labels
    ``(n,)``. Used by chapters 01, 04-08.

    Args:
        subset: ``True`` reads the small subset committed under ``data/`` (5,000 training and
            1,000 test images, balanced); ``None`` (default) does so only at small course size.
        download: whether to fall back to the Keras download when no local copy is found.

    The full dataset is read from the first of :func:`fashion_mnist_search_dirs` that holds
    the four files, else downloaded. Offline with no local copy, the subset is used with a
    warning; if that is missing too, :class:`DatasetNotFoundError` names every place searched.
    """
    if subset is None:
        subset = is_small()
    if subset and _has_files(SUBSET_DIR):
        return read_fashion_mnist_dir(SUBSET_DIR)
    searched = fashion_mnist_search_dirs()
    for folder in searched:
        if _has_files(folder):
            return read_fashion_mnist_dir(folder)
    reason = "downloading is disabled (download=False)"
    if download:
        try:
            import keras

            return keras.datasets.fashion_mnist.load_data()
        except Exception as exc:  # no network, blocked host, ...
            reason = f"the Keras download failed: {type(exc).__name__}: {exc}"
    if _has_files(SUBSET_DIR):
        warnings.warn(
            "Full Fashion-MNIST not found and "
            f"{reason}; using the 5,000-image subset in {SUBSET_DIR}. "
            f"For the full dataset run: {FIX_COMMAND}",
            stacklevel=2,
        )
        return read_fashion_mnist_dir(SUBSET_DIR)
    places = "\n".join(f"  - {p}" for p in [*searched, SUBSET_DIR])
    raise DatasetNotFoundError(
        "Fashion-MNIST was not found. Searched for "
        f"{', '.join(FASHION_MNIST_FILES)} in:\n{places}\nand {reason}.\n"
        f"Fix: {FIX_COMMAND}  (or set COURSE_DATA_DIR to a folder holding the four files)"
    )


def make_ticket_data(
    num_samples: int = 1280,
    vocabulary_size: int = 10000,
    num_tags: int = 100,
    num_departments: int = 4,
    seed: int = 0,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Make synthetic customer-support tickets for the multi-input/multi-output model (chapter 02).

    Returns ``(inputs, targets)`` dicts. Inputs: ``title`` and ``text_body`` (binary
    bag-of-words, ``(n, vocabulary_size)`` float32) and ``tags`` (multi-hot, ``(n, num_tags)``).
    Targets: ``priority`` in ``[0, 1]`` (``(n, 1)`` float32) and ``department`` (one-hot,
    ``(n, num_departments)``). Both targets depend on the inputs, so a model can learn them.
    The same seed always gives the same arrays. The seed also fixes the hidden rule linking
    inputs to targets, so a different seed is a different task: make a validation or test set by
    generating more samples and splitting them, not by changing the seed. With few samples keep
    ``vocabulary_size`` small (chapter 02 uses 500-2000), or the rule cannot be learned.
    """
    rng = np.random.default_rng(seed)
    n = int(num_samples)
    title = (rng.random((n, vocabulary_size)) < 0.01).astype("float32")
    text_body = (rng.random((n, vocabulary_size)) < 0.03).astype("float32")
    tags = (rng.random((n, num_tags)) < 0.05).astype("float32")

    # Hidden "true" weights: some words and tags signal urgency and a department.
    w_title = rng.normal(0, 1, (vocabulary_size,)).astype("float32")
    w_body = rng.normal(0, 0.5, (vocabulary_size,)).astype("float32")
    w_tags = rng.normal(0, 1, (num_tags,)).astype("float32")
    score = title @ w_title + text_body @ w_body + tags @ w_tags
    score = (score - score.mean()) / (score.std() + 1e-8)
    priority = 1.0 / (1.0 + np.exp(-(score + rng.normal(0, 0.3, n))))

    d_title = rng.normal(0, 1, (vocabulary_size, num_departments)).astype("float32")
    d_tags = rng.normal(0, 1, (num_tags, num_departments)).astype("float32")
    logits = title @ d_title + tags @ d_tags + rng.normal(0, 0.5, (n, num_departments))
    department = np.eye(num_departments, dtype="float32")[np.argmax(logits, axis=1)]

    inputs = {"title": title, "text_body": text_body, "tags": tags}
    targets = {
        "priority": priority.astype("float32").reshape(n, 1),
        "department": department,
    }
    return inputs, targets
