import pytest

import course_utils
from course_utils import config


def test_size_defaults_to_full_for_students(monkeypatch):
    """Does a student at the keyboard (no variables set) get the full size?"""
    monkeypatch.delenv("COURSE_SIZE", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert config.course_size() == "full"
    assert config.pick(small=1, full=10) == 10


def test_nbgrader_execution_means_small(monkeypatch):
    """Is the size small while nbgrader executes a notebook?"""
    monkeypatch.delenv("COURSE_SIZE", raising=False)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert config.course_size() == "small"
    assert config.is_small()


def test_course_size_variable_wins(monkeypatch):
    """Does COURSE_SIZE override nbgrader's marker, in any case?"""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("COURSE_SIZE", " Full ")
    assert config.course_size() == "full"


def test_bad_course_size_is_a_clear_error(monkeypatch):
    """Does a typo in COURSE_SIZE name the valid values instead of silently picking one?"""
    monkeypatch.setenv("COURSE_SIZE", "tiny")
    with pytest.raises(ValueError, match="small, full"):
        config.course_size()


def test_require_reports_versions_and_fix():
    """Does require() return installed versions, and explain how to upgrade when too old?"""
    found = course_utils.require(tensorflow="2.16", keras="3.0")
    assert set(found) == {"tensorflow", "keras"}
    with pytest.raises(RuntimeError, match=r"pip install -U \"keras>=99.0\""):
        course_utils.require(keras="99.0")
    with pytest.raises(RuntimeError, match="未安装"):
        course_utils.require(no_such_package_xyz="1.0")


def test_require_asks_the_module_not_the_distribution(monkeypatch, tmp_path):
    """Does a TensorFlow installed under another distribution name (tensorflow-cpu) count?"""
    (tmp_path / "fake_tf_build.py").write_text('__version__ = "2.16.2"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert course_utils.require(fake_tf_build="2.16") == {"fake-tf-build": "2.16.2"}
    with pytest.raises(RuntimeError, match="已安装 2.16.2, 需要 >= 2.17"):
        course_utils.require(fake_tf_build="2.17")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2.21.0", (2, 21, 0)),
        ("2.16.0rc1", (2, 16, 0)),
        ("3.0.0+cu121", (3, 0, 0)),
        ("2.16", (2, 16)),
    ],
)
def test_version_parsing(text, expected):
    """Are pre-releases and local versions compared by their numeric release part?"""
    assert config._version_tuple(text) == expected


def test_reset_session_makes_runs_repeatable():
    """Does reset_session(seed) give the same initial weights twice?"""
    import keras
    import numpy as np

    def weights():
        course_utils.reset_session(seed=7)
        layer = keras.layers.Dense(3)
        layer.build((None, 4))
        return np.asarray(layer.kernel)

    np.testing.assert_array_equal(weights(), weights())


def test_colab_urls_come_from_repo_url():
    """Do the badge and pip spec derive from the single REPO_URL?"""
    assert config.pip_spec().startswith(f"keras-deep-dive @ git+{config.REPO_URL}@")
    url = config.colab_badge_url("autograder/release/x/x.ipynb")
    slug = config.REPO_URL.removeprefix("https://github.com/")
    assert (
        url
        == f"https://colab.research.google.com/github/{slug}/blob/main/autograder/release/x/x.ipynb"
    )
    assert course_utils.in_colab() is False


def test_import_has_no_side_effects():
    """Does importing course_utils print nothing and leave TensorFlow unimported?"""
    import subprocess
    import sys

    code = (
        "import sys, course_utils, course_utils.data, course_utils.plots, course_utils.checks, "
        "course_utils.inspect; print('tensorflow' in sys.modules, 'matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
