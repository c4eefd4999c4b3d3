"""The Setup cell works the way it will on Colab, and the pinned TensorFlow is never replaced.

A Colab-like environment: a fresh virtual environment holding only an older TensorFlow than our
pin plus numpy and IPython/ipykernel (what Colab preinstalls). Which: ``tensorflow-cpu==2.19.0``,
the version Colab ships; the CPU build because its wheel is a third of ``tensorflow``'s (CI
downloads it cold), and because its different name is the stricter case (a requirement naming
``tensorflow`` would be met by Colab's ``tensorflow`` but not by ``tensorflow-cpu``).

The first chapter's student copy (``autograder/release/``) then runs top to bottom at small size
in a kernel of that environment, in an empty working folder (Colab's ``/content``), with
``google.colab`` in ``sys.modules`` (an IPython startup file, as Colab's kernel has it), so the
bootstrap cell really runs its ``%pip install``: the URL points at a git clone of what is on disk
now (``git+file://``). The answers are the instructor's, so every check must pass there too.

Needs PyPI (the wheels); skipped only when PyPI cannot be reached and never in CI (``CI=true``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from test_data import check_colab_loader_report, run_colab_loader
from test_install import (
    error_outputs,
    freeze,
    kernel_client,
    need_pypi,
    run,
    setup_banner,
    venv_env,
    working_tree_copy,
)

from autograder.paths import chapters
from course_utils.config import REPO_BRANCH, REPO_URL

COLAB_TF = "tensorflow-cpu==2.19.0"
FAKE_COLAB = """# Colab's kernel has google.colab imported: the Setup cell's bootstrap tests for it.
import sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")
"""


def _git(*args, cwd):
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    need_pypi()
    root = tmp_path_factory.mktemp("colab")
    # The repository as it is on disk, committed on `main` in a clone of its own.
    clone = working_tree_copy(root / "keras-deep-dive")
    _git("init", "-q", "-b", REPO_BRANCH, cwd=clone)
    _git("add", "-A", cwd=clone)
    _git("commit", "-q", "-m", "working tree under test", cwd=clone)
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=root, env=dict(os.environ))
    env = venv_env(venv)
    python = venv / "bin" / "python"
    # Colab's pip is recent; the pip bundled with Python 3.11.7 (23.2) rejects git+file:/// URLs.
    run("python -m pip install -q --upgrade pip", cwd=root, env=env)
    run(f"python -m pip install -q {COLAB_TF} numpy ipykernel", cwd=root, env=env)
    before = freeze(python)
    assert "keras-deep-dive" not in before and "matplotlib" not in before
    ipython_dir = root / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-fake-colab.py").write_text(FAKE_COLAB)
    content = root / "content"  # Colab's working folder: no course files in it
    content.mkdir()
    return {
        "root": root,
        "clone": clone,
        "venv": venv,
        "python": python,
        "env": env,
        "before": before,
        "ipython_dir": ipython_dir,
        "content": content,
    }


def _student_copy_with_answers(stem: str, clone: Path):
    """The student copy, with the instructor's answer in every solution cell."""
    student = nbformat.read(clone / "autograder/release" / stem / f"{stem}.ipynb", as_version=4)
    instructor = nbformat.read(clone / "notebooks" / f"{stem}.ipynb", as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in instructor.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    filled = 0
    for cell in student.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            cell.source = answers[meta["grade_id"]]
            filled += 1
    assert filled > 0  # (a student copy out of step with notebooks/ fails test_release)
    return student


def _point_bootstrap_at(nb, url: str) -> str:
    """Rewrite the repository URL in the Colab bootstrap cell; return the new cell source."""
    cells = [c for c in nb.cells if c.cell_type == "code" and "%pip install" in c.source]
    assert len(cells) == 1, "expected exactly one %pip cell (the Colab bootstrap)"
    (cell,) = cells
    assert cell.source.count(f"git+{REPO_URL}@{REPO_BRANCH}") == 1, cell.source
    cell.source = cell.source.replace(REPO_URL, url)
    return cell.source


def test_student_copy_runs_on_colab_with_its_own_tensorflow(colab):
    """Does the Setup cell's %pip install the course from git and keep Colab's TensorFlow 2.19?"""
    stem = next(iter(chapters()))
    nb = _student_copy_with_answers(stem, colab["clone"])
    source = _point_bootstrap_at(nb, f"file://{colab['clone']}")
    assert f'%pip install -q "keras-deep-dive @ git+file://{colab["clone"]}@main"' in source
    client = kernel_client(colab["python"], nb, colab["content"], colab["root"], timeout=900)
    client.execute(
        env=venv_env(
            colab["venv"],
            IPYTHONDIR=str(colab["ipython_dir"]),
            COURSE_SIZE="small",
            TF_CPP_MIN_LOG_LEVEL="2",
            MPLBACKEND="module://matplotlib_inline.backend_inline",
        )
    )
    assert error_outputs(nb) == []
    banner = setup_banner(nb)
    assert "TensorFlow 2.19.0" in banner and "size: small" in banner, banner

    after = freeze(colab["python"])
    assert after["tensorflow-cpu"] == "2.19.0"
    assert [n for n in after if n in ("tensorflow", "tf-nightly")] == []
    for name in ("numpy", "keras", "protobuf", "ml-dtypes", "tensorboard"):
        assert after[name] == colab["before"][name], name
    # The course came from the clone, through pip (not an editable path), and brought the rest.
    assert after["keras-deep-dive"] == "0.1.0" and "matplotlib" in after
    where = subprocess.run(
        [str(colab["python"]), "-c", "import course_utils; print(course_utils.__file__)"],
        cwd=colab["content"],
        env=colab["env"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(colab["venv"]), where


def test_bootstrap_cell_does_nothing_outside_colab(colab, tmp_path):
    """Attack: without google.colab, does the same bootstrap cell install nothing?"""
    stem = next(iter(chapters()))
    nb = _student_copy_with_answers(stem, colab["clone"])
    _point_bootstrap_at(nb, "file:///nonexistent/keras-deep-dive")
    cell = next(c for c in nb.cells if "%pip install" in c.source)
    nb.cells = [cell]
    client = kernel_client(colab["python"], nb, colab["content"], tmp_path)
    client.execute(env=venv_env(colab["venv"], IPYTHONDIR=str(tmp_path / "plain-ipython")))
    # It ran and printed nothing: a %pip of that missing path would have printed pip's error.
    assert nb.cells[0].execution_count == 1
    assert error_outputs(nb) == [] and nb.cells[0].outputs == []


def test_colab_data_loader_downloads_with_keras(colab, tmp_path):
    """In the Colab-like env (course pip-installed, no subset, no Debian data), does the loader
    download with Keras 2.19's get_file (from a local server) and then use the cache?"""
    if "keras-deep-dive" not in freeze(colab["python"]):  # this test run alone
        spec = f"keras-deep-dive @ git+file://{colab['clone']}@{REPO_BRANCH}"
        run([str(colab["python"]), "-m", "pip", "install", "-q", spec], colab["root"], colab["env"])
    report, keras_home = run_colab_loader(colab["python"], tmp_path, colab["env"])
    assert Path(report["data_module"]).is_relative_to(colab["venv"]), report["data_module"]
    assert report["subset_present"] is False  # a pip install carries no data/ folder
    check_colab_loader_report(report, keras_home)
