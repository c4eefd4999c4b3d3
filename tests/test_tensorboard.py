"""course_utils.tblogs against the real TensorBoard: event files, the HTTP API, no leftover server.

Chapters 05 and 06 write logs with ``keras.callbacks.TensorBoard`` / ``tf.summary`` and show
them with ``tblogs.show_tensorboard``; these tests make sure what they show is what was logged
and that running a chapter leaves no server behind.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request

import keras
import numpy as np
import pytest

from course_utils import tblogs


@pytest.fixture(scope="module")
def keras_logdir(tmp_path_factory):
    """A log folder written by a 2-epoch fit with the TensorBoard callback (train + validation)."""
    logdir = tmp_path_factory.mktemp("tb") / "fit"
    rng = np.random.default_rng(5)
    x = rng.normal(size=(48, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2)])
    model.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    callback = keras.callbacks.TensorBoard(log_dir=str(logdir), histogram_freq=1)
    model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, callbacks=[callback], verbose=0)
    return logdir


def get_json(url: str, until=lambda body: True, timeout: float = 20.0):
    """GET ``url`` as JSON, retrying until ``until(body)`` holds (the server loads logs lazily)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.loads(response.read().decode())
            if until(body):
                return body
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no usable answer from {url} within {timeout} s")
        time.sleep(0.25)


def gone(pid: int, timeout: float = 10.0) -> bool:
    """True once no process has id ``pid`` (an exited child that was reaped counts as gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_read_scalars_finds_keras_epoch_scalars(keras_logdir):
    """Does read_scalars return both runs' epoch_loss, one point per epoch, steps 0 and 1?"""
    scalars = tblogs.read_scalars(keras_logdir)
    for key in ("train/epoch_loss", "validation/epoch_loss", "train/epoch_accuracy"):
        steps, values = scalars[key]
        assert steps.tolist() == [0, 1], key
        assert values.dtype == np.float64 and np.all(np.isfinite(values))
    # Histograms are not scalars.
    assert not any("histogram" in key for key in scalars)


def test_plot_scalars_draws_one_panel_per_tag(keras_logdir):
    """Does plot_scalars draw a panel per requested tag with a line per run?"""
    fig = tblogs.plot_scalars(keras_logdir, tags=["epoch_loss", "epoch_accuracy"])
    assert [ax.get_title() for ax in fig.axes] == ["epoch_loss", "epoch_accuracy"]
    assert len(fig.axes[0].lines) == 2  # train and validation
    with pytest.raises(KeyError, match="no scalar tags"):
        tblogs.plot_scalars(keras_logdir, tags=["no_such_tag"])


def test_real_server_serves_the_logged_scalar_and_stops(keras_logdir):
    """Does the real TensorBoard server return the logged epoch_loss over its HTTP API, equal to
    read_scalars, and is its process gone after stop_tensorboard?"""
    expected_steps, expected_values = tblogs.read_scalars(keras_logdir)["train/epoch_loss"]
    handle = tblogs.start_tensorboard(keras_logdir)
    try:
        runs = get_json(
            f"{handle.url}/data/runs", until=lambda r: {"train", "validation"} <= set(r)
        )
        assert {"train", "validation"} <= set(runs)
        url = f"{handle.url}/data/plugin/scalars/scalars?run=train&tag=epoch_loss"
        points = get_json(url, until=lambda p: len(p) == len(expected_steps))
        steps = [int(step) for _, step, _ in points]
        values = np.array([value for _, _, value in points], dtype="float64")
        assert steps == expected_steps.tolist()
        np.testing.assert_allclose(values, expected_values, rtol=1e-6)
    finally:
        tblogs.stop_tensorboard(handle)
    assert handle.process.poll() is not None
    assert gone(handle.process.pid)


def test_server_exits_when_the_process_that_started_it_is_killed(tmp_path, keras_logdir):
    """If a kernel is killed (no atexit runs), does its TensorBoard server exit by itself?"""
    script = textwrap.dedent(
        f"""
        import sys, time
        from course_utils import tblogs
        handle = tblogs.start_tensorboard({str(keras_logdir)!r})
        print(handle.process.pid, flush=True)
        time.sleep(120)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        server_pid = int(parent.stdout.readline())
        assert not gone(server_pid, timeout=0.5), "the server should be running"
    finally:
        parent.kill()  # SIGKILL: no atexit, like a crashed kernel
        parent.wait()
    assert gone(server_pid), f"TensorBoard server {server_pid} outlived the killed kernel"


@pytest.mark.parametrize(
    "env", [{"NBGRADER_EXECUTION": "autograde"}, {"CI": "true"}, {"COURSE_TENSORBOARD": "off"}]
)
def test_show_tensorboard_starts_nothing_when_nobody_watches(env, monkeypatch, capsys, tmp_path):
    """Under nbgrader, CI or COURSE_TENSORBOARD=off, does show_tensorboard only print the
    %tensorboard instruction, return None at once and start no server?"""
    for name in (*tblogs.NON_INTERACTIVE_ENV, "COURSE_TENSORBOARD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def refuse(*args, **kwargs):
        raise AssertionError("show_tensorboard started a server in a non-interactive run")

    monkeypatch.setattr(tblogs, "start_tensorboard", refuse)
    monkeypatch.setattr(tblogs, "_SHOWN", {})
    start = time.monotonic()
    assert tblogs.show_tensorboard(tmp_path / "logs") is None
    assert time.monotonic() - start < 1.0
    assert "%tensorboard --logdir" in capsys.readouterr().out
    assert tblogs._SHOWN == {}


def test_show_tensorboard_in_a_notebook_embeds_a_server_it_can_stop(monkeypatch, keras_logdir):
    """In an interactive notebook, does show_tensorboard embed a live server, reuse it for the
    same folder, and leave a handle that stops it?"""
    shown = []
    monkeypatch.setattr(tblogs, "_interactive", lambda: True)
    monkeypatch.setattr(tblogs, "_SHOWN", {})
    import tensorboard.notebook

    monkeypatch.setattr(
        tensorboard.notebook, "display", lambda port, height: shown.append((port, height))
    )
    handle = tblogs.show_tensorboard(keras_logdir)
    try:
        assert shown == [(handle.port, 800)]
        assert get_json(f"{handle.url}/data/environment")
        assert tblogs.show_tensorboard(keras_logdir) is handle  # reused, not a second server
        assert len(shown) == 2
    finally:
        tblogs.stop_tensorboard(handle)
    assert gone(handle.process.pid)
