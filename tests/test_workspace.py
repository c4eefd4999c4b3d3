"""course_utils.workspace: the student's own copies of the chapters, never overwritten.

Fast: a fake release folder in ``tmp_path`` (two, then three chapters), except the last tests,
which copy the real release and check that it holds no instructor material and that a notebook
opened from the working folder still finds the course data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nbexec import REPO

from course_utils import workspace

# What only the instructor copies hold (nbgrader's regions, the grader's judging calls).
INSTRUCTOR_ONLY = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "expect(")


def _release(source: Path, stem: str, text: str) -> Path:
    path = source / stem / f"{stem}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "course_utils.workspace", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_copies_missing_chapters_and_never_overwrites(tmp_path):
    source, dest = tmp_path / "release", tmp_path / "ws"
    _release(source, "00_first", "v1 of 00")
    _release(source, "01_second", "v1 of 01")
    (source / "not_a_chapter").mkdir()
    (source / "02_no_notebook").mkdir()
    report = workspace.sync(dest, source)
    assert report.copied == ["00_first.ipynb", "01_second.ipynb"] and report.kept == []
    assert report.first == "00_first.ipynb"
    assert sorted(p.name for p in dest.iterdir() if not p.name.startswith(".")) == report.copied
    assert (dest / "00_first.ipynb").read_text() == "v1 of 00"

    # The student edits 00 and deletes 01; a chapter 02 is released.
    (dest / "00_first.ipynb").write_text("my answers")
    (dest / "01_second.ipynb").unlink()
    _release(source, "02_third", "v1 of 02")
    report = workspace.sync(dest, source)
    assert report.copied == ["01_second.ipynb", "02_third.ipynb"]
    assert report.kept == ["00_first.ipynb"] and report.newer == []
    assert (dest / "00_first.ipynb").read_text() == "my answers"
    assert (dest / "02_third.ipynb").read_text() == "v1 of 02"


def test_reports_a_newer_release_and_keeps_the_students_file(tmp_path):
    source, dest = tmp_path / "release", tmp_path / "ws"
    _release(source, "00_first", "v1 of 00")
    _release(source, "01_second", "v1 of 01")
    workspace.sync(dest, source)
    (dest / "00_first.ipynb").write_text("my answers")
    # Both chapters are re-released; 00 was edited, 01 was not: neither file is replaced.
    _release(source, "00_first", "v2 of 00")
    _release(source, "01_second", "v2 of 01")
    report = workspace.sync(dest, source)
    assert report.copied == [] and report.newer == ["00_first.ipynb", "01_second.ipynb"]
    assert (dest / "00_first.ipynb").read_text() == "my answers"
    assert (dest / "01_second.ipynb").read_text() == "v1 of 01"
    (newer,) = [ln for ln in report.lines() if "newer release" in ln]
    assert "新版本" in newer and "00_first.ipynb, 01_second.ipynb" in newer
    # Said again next time (nothing was taken), until the student renames theirs away.
    assert workspace.sync(dest, source).newer == ["00_first.ipynb", "01_second.ipynb"]
    (dest / "00_first.ipynb").rename(dest / "00_first-mine.ipynb")
    report = workspace.sync(dest, source)
    assert report.copied == ["00_first.ipynb"] and report.newer == ["01_second.ipynb"]
    assert (dest / "00_first.ipynb").read_text() == "v2 of 00"
    assert (dest / "00_first-mine.ipynb").read_text() == "my answers"
    # A file that already is the new release is simply recorded as such.
    (dest / "01_second.ipynb").write_text("v2 of 01")
    assert workspace.sync(dest, source).newer == []
    assert workspace.sync(dest, source).lines() == [
        "==> 保留你已有的 2 个文件，未改动 (kept your 2 existing file(s) unchanged)"
    ]


def test_unrecorded_files_are_kept_and_not_reported(tmp_path):
    """A folder made by hand (no manifest, or a broken one): files stay, nothing is claimed."""
    source, dest = tmp_path / "release", tmp_path / "ws"
    _release(source, "00_first", "v1 of 00")
    dest.mkdir()
    (dest / "00_first.ipynb").write_text("copied by hand, then edited")
    (dest / workspace.MANIFEST).write_text("{not json")
    report = workspace.sync(dest, source)
    assert report.kept == ["00_first.ipynb"] and report.newer == [] and report.copied == []
    assert (dest / "00_first.ipynb").read_text() == "copied by hand, then edited"


def test_missing_release_says_so_in_chinese_and_english(tmp_path):
    with pytest.raises(workspace.WorkspaceError) as missing:
        workspace.sync(tmp_path / "ws", tmp_path / "nowhere")
    assert "找不到学生版笔记本" in str(missing.value) and "is missing" in str(missing.value)
    (tmp_path / "empty").mkdir()
    out = _run_cli("--dest", "ws", "--source", str(tmp_path / "empty"), cwd=tmp_path)
    assert out.returncode == 1 and out.stdout == ""
    assert "找不到学生版笔记本" in out.stderr and "holds no chapter" in out.stderr
    assert "autograder release" in out.stderr
    assert not (tmp_path / "ws").exists()


def test_cli_copies_the_real_release_without_instructor_material(tmp_path):
    """`python -m course_utils.workspace --dest workspace` from another folder, twice."""
    out = _run_cli("--dest", "workspace", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    dest = tmp_path / "workspace"
    released = sorted(p.name for p in (REPO / "autograder" / "release").glob("*/[0-9][0-9]_*"))
    copied = sorted(p.name for p in dest.glob("*.ipynb"))
    assert copied == released and len(copied) >= 9
    assert f"copied {len(copied)} chapter(s)" in out.stdout and "workspace/" in out.stdout
    for path in dest.glob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert not [m for m in INSTRUCTOR_ONLY if m in text], path.name
    manifest = json.loads((dest / workspace.MANIFEST).read_text())["copied"]
    assert sorted(manifest) == copied
    again = _run_cli("--dest", "workspace", "--quiet", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == "", again


def test_notebooks_in_the_workspace_find_the_course_data(tmp_path):
    """course_utils.data reads data/ next to the package, whatever the kernel's folder."""
    code = (
        "import json; from course_utils import data\n"
        "(x, y), (xt, yt) = data.load_fashion_mnist(subset=True, download=False)\n"
        "print(json.dumps({'subset': str(data.SUBSET_DIR), 'n': len(x), 'shape': x.shape[1:]}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(info["subset"]) == REPO / "data" / "fashion-mnist-subset"
    assert info["n"] > 0 and info["shape"] == [28, 28]
