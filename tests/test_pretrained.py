"""course_utils.pretrained: ImageNet weights only where they are wanted, never in tests."""

import sys

import pytest

from course_utils import pretrained

ENV = ("COURSE_PRETRAINED", "KERAS_HOME", *pretrained.OFFLINE_ENV)


@pytest.fixture
def clean(monkeypatch, tmp_path):
    """No offline flags, no Colab, an empty home and Keras cache."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(pretrained.Path, "home", classmethod(lambda cls: tmp_path / "home"))
    monkeypatch.setattr(pretrained, "keras_cache_dirs", lambda: [tmp_path / "home/.keras/models"])
    return monkeypatch, tmp_path


def online(monkeypatch):
    """pytest sets PYTEST_CURRENT_TEST again at the start of each test body: drop it there."""
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)


def cache(tmp_path, filename=pretrained.MOBILENET_V2_FILE):
    folder = tmp_path / "home/.keras/models"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(b"h5")
    return folder / filename


def test_file_name_matches_keras():
    """Is the cached file name the one keras.applications.MobileNetV2 downloads?"""
    assert pretrained.mobilenet_v2_file(0.35, 96) == pretrained.MOBILENET_V2_FILE
    assert pretrained.mobilenet_v2_file(1.0, 224, include_top=True) == (
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5"
    )


def test_nothing_cached_and_not_colab_gives_none(clean, capsys):
    """Offline at home with no cached file: weights=None, and the message says why?"""
    online(clean[0])
    assert pretrained.choose_weights() is None
    out = capsys.readouterr().out
    assert "weights=None" in out and "缓存" in out


def test_colab_gives_imagenet(clean, capsys):
    """On Colab (google.colab imported) the real ImageNet path is taken?"""
    monkeypatch, _ = clean
    online(monkeypatch)
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert pretrained.choose_weights() == "imagenet"
    assert "Colab" in capsys.readouterr().out


def test_cached_file_gives_imagenet(clean):
    """A weights file already in the Keras cache is used (no download needed)?"""
    monkeypatch, tmp_path = clean
    online(monkeypatch)
    path = cache(tmp_path)
    weights, message = pretrained.explain_weights()
    assert weights == "imagenet" and str(path) in message


def test_other_cached_file_does_not_count(clean):
    """Only the file for this model counts, not any file in the cache?"""
    monkeypatch, tmp_path = clean
    online(monkeypatch)
    cache(tmp_path, "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert pretrained.choose_weights(verbose=False) is None


def test_empty_cached_file_does_not_count(clean):
    """An empty (interrupted) download is not taken for the weights?"""
    monkeypatch, tmp_path = clean
    online(monkeypatch)
    cache(tmp_path).write_bytes(b"")
    assert pretrained.choose_weights(verbose=False) is None


def test_course_pretrained_forces_imagenet(clean):
    """COURSE_PRETRAINED=1 asks for ImageNet weights even when offline flags are set?"""
    monkeypatch, _ = clean
    monkeypatch.setenv("COURSE_PRETRAINED", "1")
    monkeypatch.setenv("CI", "true")
    weights, message = pretrained.explain_weights()
    assert weights == "imagenet" and "COURSE_PRETRAINED=1" in message


def test_course_pretrained_zero_forces_none(clean):
    """COURSE_PRETRAINED=0 turns them off even on Colab with a cached file?"""
    monkeypatch, tmp_path = clean
    cache(tmp_path)
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setenv("COURSE_PRETRAINED", "0")
    assert pretrained.choose_weights(verbose=False) is None


@pytest.mark.parametrize("name", pretrained.OFFLINE_ENV)
def test_offline_flags_give_none_even_on_colab_with_cache(clean, name):
    """nbgrader, pytest, CI and COURSE_OFFLINE never load or download weights?"""
    monkeypatch, tmp_path = clean
    online(monkeypatch)
    cache(tmp_path)
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setenv(name, "1")
    weights, message = pretrained.explain_weights()
    assert weights is None and name in message and "COURSE_PRETRAINED=1" in message


def test_quiet_choice_prints_nothing(clean, capsys):
    """verbose=False returns the choice without printing?"""
    pretrained.choose_weights(verbose=False)
    assert capsys.readouterr().out == ""


def test_cache_dirs_follow_keras_home(monkeypatch, tmp_path):
    """$KERAS_HOME/models is searched first, then ~/.keras/models?"""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    dirs = pretrained.keras_cache_dirs()
    assert dirs[0] == tmp_path / "kh" / "models"
    assert dirs[1] == pretrained.Path.home() / ".keras" / "models"
    (tmp_path / "kh" / "models").mkdir(parents=True)
    (tmp_path / "kh" / "models" / "w.h5").write_bytes(b"x")
    assert pretrained.cached_weights("w.h5") == tmp_path / "kh" / "models" / "w.h5"


def test_real_pytest_environment_chooses_none():
    """Under pytest itself (PYTEST_CURRENT_TEST is set), no download can happen?"""
    assert pretrained.choose_weights(verbose=False) is None
