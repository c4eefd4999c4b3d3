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


# ---------------------------------------------------------------- TensorFlow checked at import
# Each case is a fresh interpreter without site-packages (-S) whose only TensorFlow is a fake
# one in a temporary folder: a `tensorflow` package plus the `.dist-info` folders pip writes.


def _fake_site(tmp_path, builds, init='__version__ = "2.16.2"\n', top_level=True):
    """A site-packages folder holding ``tensorflow/`` and one dist-info per (name, version)."""
    site = tmp_path / "site"
    (site / "tensorflow").mkdir(parents=True)
    (site / "tensorflow" / "__init__.py").write_text(init)
    for name, version in builds:
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nlong text\n"
        )
        if top_level:
            (info / "top_level.txt").write_text("tensorflow\n")
        (info / "RECORD").write_text("tensorflow/__init__.py,sha256=x,10\n")
    return site


def _python(code, *paths):
    """Run ``code`` in the base interpreter with only ``paths`` and the repository importable."""
    import subprocess
    import sys

    from nbexec import REPO

    prelude = f"import sys; sys.path[:0] = {[str(p) for p in paths] + [str(REPO)]!r}\n"
    return subprocess.run(
        [getattr(sys, "_base_executable", sys.executable), "-S", "-c", prelude + code],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_import_without_tensorflow_says_what_to_install():
    """With no TensorFlow at all, does `import course_utils` say so in Chinese and English?"""
    out = _python("import course_utils")
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()
    message = out.stderr[out.stderr.index("ImportError") :]
    assert "没有安装" in message and "TensorFlow is not installed" in message, last
    assert 'pip install "tensorflow>=2.16"' in message
    assert 'pip install -e ".[tf,course]"' in message


def test_import_with_too_old_tensorflow_names_the_build(tmp_path):
    """Does tensorflow-cpu 2.15 stop `import course_utils` with the build's own upgrade line?"""
    site = _fake_site(tmp_path, [("tensorflow-cpu", "2.15.1")], init='__version__ = "2.15.1"\n')
    out = _python("import course_utils", site)
    assert out.returncode != 0
    message = out.stderr[out.stderr.index("ImportError") :]
    assert "TensorFlow 版本太旧" in message and "TensorFlow too old" in message
    assert "tensorflow-cpu 2.15.1" in message and ">= 2.16" in message
    assert 'pip install -U "tensorflow-cpu>=2.16"' in message
    assert '"tensorflow>=' not in message  # would add a second build next to tensorflow-cpu
    site = _fake_site(tmp_path / "tf", [("tensorflow", "2.15.1")], init='__version__ = "2.15.1"\n')
    message = _python("import course_utils", site).stderr
    assert 'pip install -U "tensorflow>=2.16"' in message and "tensorflow-cpu" not in message


def test_two_builds_over_each_other_are_named(tmp_path):
    """Attack (the issue's case): tensorflow 2.21 pulled over tensorflow-cpu 2.16. Named, with a fix?"""
    site = _fake_site(tmp_path, [("tensorflow-cpu", "2.16.2"), ("tensorflow", "2.21.0")])
    out = _python("import course_utils", site)
    assert out.returncode != 0
    message = out.stderr[out.stderr.index("ImportError") :]
    assert "tensorflow 2.21.0, tensorflow-cpu 2.16.2" in message
    assert "pip uninstall -y tensorflow tensorflow-cpu" in message
    assert 'pip install "tensorflow-cpu==2.16.2"' in message


def test_any_build_of_tensorflow_counts_and_is_not_imported(tmp_path):
    """tensorflow-cpu, tf-nightly without top_level.txt, two builds of one version: all fine?"""
    code = (
        "import course_utils, sys\n"
        "print('tensorflow' in sys.modules, course_utils.config.tensorflow_builds())"
    )
    cases = {
        "cpu": ([("tensorflow-cpu", "2.16.2")], True, "[('tensorflow-cpu', '2.16.2')]"),
        "nightly": (
            [("tf-nightly", "2.22.0.dev20260101")],
            False,
            "[('tf-nightly', '2.22.0.dev20260101')]",
        ),
        "same": (
            [("tensorflow", "2.21.0"), ("tensorflow-cpu", "2.21.0")],
            True,
            "[('tensorflow', '2.21.0'), ('tensorflow-cpu', '2.21.0')]",
        ),
    }
    for name, (builds, top_level, expected) in cases.items():
        site = _fake_site(tmp_path / name, builds, top_level=top_level)
        out = _python(code, site)
        assert out.returncode == 0, (name, out.stderr)
        assert out.stdout.strip() == f"False {expected}", name


def test_require_reports_a_tensorflow_that_fails_to_import(tmp_path):
    """Is a broken TensorFlow (undefined symbol) "fails to import", not "not installed"?"""
    init = (
        "raise ImportError('_pywrap_tensorflow_internal.so: undefined symbol: _ZN3tsl6StatusC1E')\n"
    )
    site = _fake_site(tmp_path, [("tensorflow-cpu", "2.16.2")], init=init)
    out = _python("import course_utils\ncourse_utils.require(tensorflow='2.16')", site)
    message = out.stderr[out.stderr.index("RuntimeError") :]
    assert "已安装但无法导入" in message and "undefined symbol" in message
    assert "未安装" not in message


def test_require_upgrades_the_build_that_is_installed(tmp_path):
    """Under tensorflow-cpu, does the fix line upgrade tensorflow-cpu (not add `tensorflow`)?"""
    site = _fake_site(tmp_path, [("tensorflow-cpu", "2.16.2")])
    out = _python("import course_utils\ncourse_utils.require(tensorflow='2.17')", site)
    message = out.stderr[out.stderr.index("RuntimeError") :]
    assert "已安装 2.16.2, 需要 >= 2.17" in message
    assert 'pip install -U "tensorflow-cpu>=2.17"' in message
    assert '"tensorflow>=' not in message


def test_require_reports_a_broken_install_without_importing_it(tmp_path):
    """Attack: tensorflow pip-installed over tensorflow-cpu while the kernel runs (course_utils is
    already imported), then the Setup cell re-run. Does require() name both builds and the fix
    before anything imports the broken TensorFlow (whose import here kills the process)?"""
    site = _fake_site(tmp_path, [("tensorflow-cpu", "2.16.2")], init="import os; os._exit(97)\n")
    second = site / "tensorflow-2.21.0.dist-info"
    code = (
        "import pathlib, course_utils\n"
        f"info = pathlib.Path({str(second)!r}); info.mkdir()\n"
        "(info / 'METADATA').write_text('Name: tensorflow\\nVersion: 2.21.0\\n\\n')\n"
        "(info / 'top_level.txt').write_text('tensorflow\\n')\n"
        "course_utils.require(tensorflow='2.16', keras='3.0')\n"
    )
    out = _python(code, site)
    assert out.returncode == 1, (out.returncode, out.stderr)  # 97: TensorFlow was imported
    message = out.stderr[out.stderr.index("RuntimeError") :]
    assert "tensorflow 2.21.0, tensorflow-cpu 2.16.2" in message
    assert "pip uninstall -y tensorflow tensorflow-cpu" in message
    assert '"tensorflow>=' not in message  # no generic line that would add a third build


def test_require_reports_too_old_from_metadata_without_importing(tmp_path):
    """Is a too-old TensorFlow reported from its metadata, before importing it (even when its
    import would crash)?"""
    site = _fake_site(tmp_path, [("tensorflow-cpu", "2.16.2")], init="import os; os._exit(97)\n")
    out = _python("import course_utils\ncourse_utils.require(tensorflow='2.17')", site)
    assert out.returncode == 1, (out.returncode, out.stderr)
    message = out.stderr[out.stderr.index("RuntimeError") :]
    assert "已安装 2.16.2, 需要 >= 2.17" in message
    assert 'pip install -U "tensorflow-cpu>=2.17"' in message
