import shutil

import numpy as np
import pytest

from course_utils import data

SUBSET = data.SUBSET_DIR


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Point every search location at empty temporary folders; return a helper to fill them."""
    places = {
        "env": tmp_path / "env",
        "repo": tmp_path / "repo",
        "debian": tmp_path / "debian",
        "keras_home": tmp_path / "keras_home",
    }
    monkeypatch.setenv("COURSE_DATA_DIR", str(places["env"]))
    monkeypatch.setenv("KERAS_HOME", str(places["keras_home"]))
    monkeypatch.setattr(data, "REPO_DATA_DIR", places["repo"])
    monkeypatch.setattr(data, "DEBIAN_DIR", places["debian"])
    places["cache"] = places["keras_home"] / "datasets" / "fashion-mnist"

    def fill(name, n_train):
        x = np.full((n_train, 28, 28), n_train % 256, dtype=np.uint8)
        y = (np.arange(n_train) % 10).astype(np.uint8)
        data.write_fashion_mnist_dir(places[name], (x, y), (x[:3], y[:3]))

    return places, fill


def _no_download(monkeypatch, calls):
    import keras

    def fake_load_data():
        calls.append(1)
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", fake_load_data)


def test_search_order(isolated, monkeypatch):
    """Is each place used only when every place before it lacks the files?"""
    places, fill = isolated
    calls = []
    _no_download(monkeypatch, calls)
    order = ["cache", "debian", "repo", "env"]  # fill from last to first
    for n, name in enumerate(order, start=11):
        fill(name, n)
        (x_train, _), _ = data.load_fashion_mnist(subset=False)
        assert len(x_train) == n, f"after filling {name}, expected data from {name}"
    assert calls == []


def test_search_dirs_listed_in_documented_order(isolated):
    """Are the folders searched $COURSE_DATA_DIR, data/, Debian, Keras cache, in that order?"""
    places, _ = isolated
    assert data.fashion_mnist_search_dirs() == [
        places["env"],
        places["repo"],
        places["debian"],
        places["cache"],
    ]


def test_partial_folder_is_skipped(isolated, monkeypatch):
    """Is a folder with only some of the four files passed over rather than half-read?"""
    places, fill = isolated
    fill("env", 5)
    (places["env"] / data.FASHION_MNIST_FILES[0]).unlink()
    fill("debian", 7)
    (x_train, _), _ = data.load_fashion_mnist(subset=False, download=False)
    assert len(x_train) == 7


def test_download_is_the_last_resort(isolated, monkeypatch):
    """With nothing local, is the Keras download used (what Colab users get)?"""
    import keras

    sentinel = ((np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.uint8)),) * 2
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: sentinel)
    assert data.load_fashion_mnist(subset=False) is sentinel


def test_offline_falls_back_to_subset_with_warning(isolated, monkeypatch):
    """Offline with no local copy, does the loader use the shipped subset and say so?"""
    calls = []
    _no_download(monkeypatch, calls)
    with pytest.warns(UserWarning, match="apt-get install dataset-fashion-mnist"):
        (x_train, _), _ = data.load_fashion_mnist(subset=False)
    assert calls == [1] and len(x_train) == 5000


def test_clear_error_when_nothing_found(isolated, monkeypatch, tmp_path):
    """With no copy anywhere and downloading off, does the error name every place and the fix?"""
    places, _ = isolated
    monkeypatch.setattr(data, "SUBSET_DIR", tmp_path / "no-subset")
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_fashion_mnist(subset=False, download=False)
    message = str(info.value)
    for folder in data.fashion_mnist_search_dirs():
        assert str(folder) in message
    assert "download=False" in message
    assert "sudo apt-get install dataset-fashion-mnist" in message


def test_corrupt_file_is_reported(tmp_path):
    """Does a truncated IDX file raise an error naming the file rather than bad arrays?"""
    shutil.copytree(SUBSET, tmp_path / "d")
    target = tmp_path / "d" / "t10k-labels-idx1-ubyte.gz"
    import gzip

    raw = gzip.open(target).read()
    with gzip.open(target, "wb") as f:
        f.write(raw[:-10])
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz is truncated"):
        data.read_fashion_mnist_dir(tmp_path / "d")


def test_subset_shapes_and_balance():
    """Is the committed subset shaped like keras.datasets, uint8, and balanced by class?"""
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist(subset=True)
    assert x_train.shape == (5000, 28, 28) and y_train.shape == (5000,)
    assert x_test.shape == (1000, 28, 28) and y_test.shape == (1000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype("uint8")}
    assert np.bincount(y_train, minlength=10).tolist() == [500] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [100] * 10
    assert x_train.max() > 200 and x_train.std() > 30  # real images, not zeros


def test_subset_is_small_and_committed_size():
    """Does the subset stay under 5 MB?"""
    total = sum(p.stat().st_size for p in SUBSET.iterdir())
    assert total < 5_000_000


def test_small_size_uses_subset(monkeypatch):
    """At small course size, is the subset used by default (fast, no apt, no network)?"""
    monkeypatch.setenv("COURSE_SIZE", "small")
    (x_train, _), _ = data.load_fashion_mnist()
    assert len(x_train) == 5000


@pytest.mark.skipif(not data._has_files(data.DEBIAN_DIR), reason="Debian dataset not installed")
def test_subset_is_reproducible_from_debian_files(tmp_path):
    """Does scripts/make_subset.py rebuild the committed files byte for byte?"""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "scripts/make_subset.py", "--out", str(tmp_path)],
        check=True,
        cwd=data.REPO_ROOT,
        capture_output=True,
    )
    for name in data.FASHION_MNIST_FILES:
        assert (tmp_path / name).read_bytes() == (SUBSET / name).read_bytes(), name


def test_class_names():
    """Are the ten class names exported in label order?"""
    assert len(data.CLASS_NAMES) == 10
    assert data.CLASS_NAMES[0] == "T-shirt/top" and data.CLASS_NAMES[9] == "Ankle boot"


def test_ticket_data_is_deterministic_and_well_formed():
    """Does the ticket generator give the documented shapes, ranges and the same data per seed?"""
    inputs, targets = data.make_ticket_data(
        num_samples=64, vocabulary_size=50, num_tags=7, num_departments=3, seed=1
    )
    assert inputs["title"].shape == (64, 50) and inputs["text_body"].shape == (64, 50)
    assert inputs["tags"].shape == (64, 7)
    assert set(np.unique(inputs["title"])) <= {0.0, 1.0}
    assert targets["priority"].shape == (64, 1)
    assert 0 <= targets["priority"].min() and targets["priority"].max() <= 1
    assert np.all(targets["department"].sum(axis=1) == 1) and targets["department"].shape == (64, 3)
    again, targets2 = data.make_ticket_data(
        num_samples=64, vocabulary_size=50, num_tags=7, num_departments=3, seed=1
    )
    np.testing.assert_array_equal(inputs["title"], again["title"])
    np.testing.assert_array_equal(targets["priority"], targets2["priority"])
    other, _ = data.make_ticket_data(num_samples=64, vocabulary_size=50, num_tags=7, seed=2)
    assert not np.array_equal(inputs["title"], other["title"])


def test_ticket_targets_are_learnable():
    """Is priority predictable from the inputs (so training curves go down)?"""
    inputs, targets = data.make_ticket_data(num_samples=2000, vocabulary_size=300, num_tags=20)
    x = np.hstack([inputs["title"], inputs["text_body"], inputs["tags"], np.ones((2000, 1))])
    coef, *_ = np.linalg.lstsq(x[:1500], targets["priority"][:1500], rcond=None)
    pred = x[1500:] @ coef
    baseline = np.var(targets["priority"][1500:])
    assert np.mean((pred - targets["priority"][1500:]) ** 2) < 0.8 * baseline


def test_loader_works_offline_from_a_fresh_process():
    """Does the README's one-liner load data in a fresh interpreter with no network needed?"""
    import subprocess
    import sys

    code = (
        "import keras, warnings\n"
        "def boom(): raise OSError('offline')\n"
        "keras.datasets.fashion_mnist.load_data = boom\n"
        "from course_utils.data import load_fashion_mnist\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore')\n"
        "    (x, y), (xt, yt) = load_fashion_mnist()\n"
        "print(x.shape, xt.shape)"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "COURSE_SIZE"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert ", 28, 28) (" in out.stdout


# The loader on Colab: no local copy anywhere (the course is pip-installed, so not even the
# committed subset), full size, so it downloads with Keras. Keras' own get_file does the
# download, from a local HTTP server holding the subset under the standard names: only the
# origin is rewritten, and every other connection fails, so nothing reaches the network.
COLAB_LOADER_SCRIPT = r"""
import http.server, json, os, socket, sys, threading, warnings
from pathlib import Path

served, empty = Path(sys.argv[1]), Path(sys.argv[2])
requests = []


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(served), **kwargs)

    def do_GET(self):
        requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()

real_connect = socket.socket.connect


def local_only(self, address):
    if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "localhost"):
        raise OSError(f"test: network blocked ({address[0]})")
    return real_connect(self, address)


socket.socket.connect = local_only

import keras.src.datasets.fashion_mnist as keras_fashion_mnist

real_get_file = keras_fashion_mnist.get_file
GCS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def get_file(fname, origin, **kwargs):
    assert origin.startswith(GCS), origin
    local = f"http://127.0.0.1:{server.server_port}/{origin[len(GCS):]}"
    return real_get_file(fname, origin=local, **kwargs)


keras_fashion_mnist.get_file = get_file

from course_utils import data

data.REPO_DATA_DIR = data.DEBIAN_DIR = empty  # Colab has neither
subset_present = data._has_files(data.SUBSET_DIR)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    (x, y), (xt, yt) = data.load_fashion_mnist()
first = list(requests)
(x2, _), _ = data.load_fashion_mnist()  # second time: from the Keras cache, no download
print(json.dumps({
    "shapes": [list(x.shape), list(y.shape), list(xt.shape), list(yt.shape)],
    "dtype": str(x.dtype), "first": first, "again": requests[len(first):],
    "same": bool((x == x2).all()), "cache": str(data.fashion_mnist_search_dirs()[-1]),
    "subset_present": subset_present, "data_module": data.__file__,
    "warnings": [str(w.message) for w in caught if "Fashion" in str(w.message)],
}))
"""


def run_colab_loader(python, tmp_path, env):
    """Run COLAB_LOADER_SCRIPT with ``python``; return its report and the Keras home used."""
    import json
    import subprocess

    served = tmp_path / "served"
    shutil.copytree(SUBSET, served)  # the bucket's layout: tf-keras-datasets/<file>
    (tmp_path / "empty").mkdir()
    keras_home = tmp_path / "keras_home"
    env = {k: v for k, v in env.items() if k not in ("COURSE_DATA_DIR", "PYTHONPATH")}
    env.update(COURSE_SIZE="full", KERAS_HOME=str(keras_home), TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run(
        [str(python), "-c", COLAB_LOADER_SCRIPT, str(served), str(tmp_path / "empty")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), keras_home


def check_colab_loader_report(report, keras_home):
    names = sorted(data.FASHION_MNIST_FILES)
    assert sorted(p.rsplit("/", 1)[-1] for p in report["first"]) == names, report["first"]
    assert report["warnings"] == [], "fell back instead of downloading"
    assert report["again"] == [], "the second load downloaded again instead of using the cache"
    assert report["shapes"] == [[5000, 28, 28], [5000], [1000, 28, 28], [1000]]
    assert report["dtype"] == "uint8" and report["same"]
    cache = keras_home / "datasets" / "fashion-mnist"
    assert report["cache"] == str(cache)
    assert sorted(p.name for p in cache.iterdir()) == names


def test_colab_path_downloads_with_keras_then_reads_the_cache(tmp_path):
    """Colab: no local copy, full size. Keras downloads (from a local server), then the cache?"""
    import os
    import sys

    report, keras_home = run_colab_loader(sys.executable, tmp_path, dict(os.environ))
    check_colab_loader_report(report, keras_home)
