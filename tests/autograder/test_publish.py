"""Tests of ``python -m autograder publish``: the student side, and only it, in a folder of its own.

The real command writes the tree once (module fixture); the tests then read every file of it.
Their scans are their own, not ``autograder.publish.leaks``, so a bug there cannot hide a leak.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import CHAPTERS, REPO, run_autograder

from autograder.release import Release
from course_utils.config import REPO_URL

pytestmark = pytest.mark.skipif(not CHAPTERS, reason="no chapter notebooks yet")

URL = "https://github.com/example-org/course-public"
TOP_LEVEL = {"README.md", "LICENSE", "pyproject.toml", "course_utils", "data", "notebooks"}
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("publish") / "course-public"
    proc = run_autograder("publish", "--out", str(out), "--repo-url", URL, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Published {len(CHAPTERS)} chapters" in proc.stdout, proc.stdout
    return out


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _code_findings(source: str, where: str) -> list[str]:
    """``ref_*`` definitions or assignments and ``expect(...)`` calls in Python ``source``."""
    clean = "\n".join(  # an IPython magic or shell escape becomes `pass`, indentation kept
        re.sub(r"^(\s*)[%!].*", r"\1pass", line) for line in source.splitlines()
    )
    found = []
    for node in ast.walk(ast.parse(clean)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name.startswith("ref_"):
                found.append(f"{where}: def {node.name}")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            if node.id.startswith("ref_"):
                found.append(f"{where}: {node.id} = ...")
        elif isinstance(node, ast.Call):
            func = node.func
            if getattr(func, "id", None) == "expect" or getattr(func, "attr", None) == "expect":
                found.append(f"{where}: expect(...) at line {node.lineno}")
    return found


def test_tree_is_the_student_side_only(published):
    """Does the tree hold the student copies, course_utils, data, pyproject, README and LICENSE, and no grader, instructor notebook, tests or benchmarks?"""
    assert {p.name for p in published.iterdir()} == TOP_LEVEL
    names = [p.relative_to(published).as_posix() for p in published.rglob("*")]
    assert not [n for n in names if "autograder" in n.split("/")], names
    for folder in ("tests", "bench", "scripts", "autograder", "notebooks/AUTHORING.md"):
        assert not (published / folder).exists(), folder
    assert (published / "data" / "README.md").is_file()
    subset = published / "data" / "fashion-mnist-subset"
    assert sorted(p.name for p in subset.iterdir()) == sorted(
        p.name for p in (REPO / "data" / "fashion-mnist-subset").iterdir()
    )
    assert not (published / "data" / "fashion-mnist").exists()  # a local copy, never shipped
    shipped = {
        p.relative_to(REPO / "course_utils").as_posix()
        for p in (REPO / "course_utils").rglob("*.py")
    }
    assert {
        p.relative_to(published / "course_utils").as_posix() for p in published.rglob("*.py")
    } == shipped
    assert (published / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()


def test_no_instructor_material_in_any_file(published):
    """Does no file hold a solution or hidden-test region, a ref_* definition, an expect(...) call, an import of the grader or an instructor notebook?"""
    instructor = {p.read_bytes() for p in CHAPTERS}
    problems = []
    for path in _files(published):
        rel = path.relative_to(published).as_posix()
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        if data in instructor:
            problems.append(f"{rel}: an instructor notebook")
        for marker in MARKERS:
            for line in text.splitlines():
                if marker not in line:
                    continue
                # course_utils/grading.py names the hidden-test markers in its docstring, in
                # double backquotes mid-line; a region marker starts its line.
                if rel == "course_utils/grading.py" and f"``### {marker}``" in line:
                    assert not line.lstrip().startswith("###")
                    continue
                problems.append(f"{rel}: {line.strip()[:80]}")
        if path.suffix == ".py":
            problems += _code_findings(text, rel)
            tree = ast.parse(text)
            for node in ast.walk(tree):
                modules = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                if any(m.split(".")[0] == "autograder" for m in modules):
                    problems.append(f"{rel}:{node.lineno}: imports the grader")
        elif path.suffix == ".ipynb":
            nb = nbformat.reads(text, as_version=4)
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    problems += _code_findings(cell.source, f"{rel}[{i}]")
        elif path.suffix != ".gz":
            if re.search(r"\bdef\s+ref_|\bexpect\s*\(", text):
                problems.append(f"{rel}: ref_ definition or expect( call")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_has_its_student_copy(published, chapter):
    """Is each chapter's student copy there, a fresh release whose only changes are the badge and Setup links to the published repository?"""
    path = published / "notebooks" / chapter.name
    assert path.is_file(), f"{chapter.stem} is missing from the published tree"
    got = nbformat.read(path, as_version=4)
    want = nbformat.reads(Release().render(chapter), as_version=4)
    assert len(got.cells) == len(want.cells)
    changed = [(g, w) for g, w in zip(got.cells, want.cells) if g.source != w.source]
    for g, w in changed:
        slug = REPO_URL.removeprefix("https://github.com/")
        assert "example-org/course-public" in g.source and slug in w.source, g.source
    text = path.read_text(encoding="utf-8")
    assert f"git+{URL}@main" in text
    assert f"github/example-org/course-public/blob/main/notebooks/{chapter.name}" in text
    assert REPO_URL not in text
    assert "NotImplementedError" in text  # answers are blanked as in the release


def test_readme_pyproject_and_config_point_at_the_published_repository(published):
    """Do the README's badges, the pyproject and course_utils' REPO_URL describe the published repository, with no grader and no dev extra?"""
    readme = (published / "README.md").read_text(encoding="utf-8")
    for chapter in CHAPTERS:
        assert f"example-org/course-public/blob/main/notebooks/{chapter.name})" in readme
    assert "快速开始" in readme and "Quick start" in readme and f"git clone {URL}" in readme
    for path in _files(published):
        if path.suffix != ".gz":
            assert REPO_URL not in path.read_text(encoding="utf-8"), path
    ours = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    theirs = tomllib.loads((published / "pyproject.toml").read_text(encoding="utf-8"))
    for key in ("name", "version", "dependencies", "requires-python", "license"):
        assert theirs["project"][key] == ours["project"][key], key
    extras = theirs["project"]["optional-dependencies"]
    assert "dev" not in extras and extras["tf"] == ours["project"]["optional-dependencies"]["tf"]
    assert theirs["tool"]["setuptools"]["packages"]["find"]["include"] == ["course_utils*"]
    assert "pytest" not in theirs.get("tool", {})


def test_refuses_a_non_empty_folder_unless_forced(tmp_path):
    """Is a non-empty --out refused, and --force replacing its contents but keeping .git?"""
    out = tmp_path / "public"
    (out / ".git").mkdir(parents=True)
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "stale.txt").write_text("old\n")
    proc = run_autograder("publish", "--out", str(out), "--repo-url", URL)
    assert proc.returncode == 2 and "not empty" in proc.stderr, proc.stderr
    assert (out / "stale.txt").exists()
    proc = run_autograder("publish", "--out", str(out), "--repo-url", URL, "--force")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "stale.txt").exists() and (out / ".git" / "HEAD").is_file()
    assert {p.name for p in out.iterdir()} == TOP_LEVEL | {".git"}
    proc = run_autograder("publish", "--out", str(REPO), "--force")
    assert proc.returncode == 2 and "repository" in proc.stderr, proc.stderr


def _setuptools_is_enough(requires: list[str]) -> bool:
    from packaging.requirements import Requirement

    for text in requires:
        req = Requirement(text)
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            return False
        if not req.specifier.contains(version, prereleases=True):
            return False
    return True


def test_wheel_packages_course_utils_only(published, tmp_path):
    """Does a wheel built from the published tree hold course_utils and not the grader?"""
    build = shutil.copytree(published, tmp_path / "src")  # the build writes into its source
    requires = tomllib.loads((build / "pyproject.toml").read_text())["build-system"]["requires"]
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "wheels")]
    if _setuptools_is_enough(requires):
        cmd.append("--no-build-isolation")  # offline: the venv's setuptools builds it
    else:
        # The venv's setuptools (ensurepip's) predates what pyproject.toml asks for: pip fetches
        # the build backend into an isolated environment, which needs PyPI.
        ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
        try:
            socket.create_connection(("pypi.org", 443), timeout=5).close()
        except OSError:
            if not ci:
                pytest.skip(f"the venv lacks {requires} and PyPI is not reachable")
    proc = subprocess.run(
        [*cmd, str(build)], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (tmp_path / "wheels").glob("keras_deep_dive-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "course_utils/__init__.py" in names and "course_utils/checks/__init__.py" in names
    assert "course_utils/grading.py" in names
    assert not [n for n in names if n.split("/")[0] == "autograder"], names
    tops = {n.split("/")[0] for n in names}
    assert tops == {"course_utils", wheel.name.split("-py")[0] + ".dist-info"}, tops
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    meta = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Provides-Extra: dev" not in meta and "Provides-Extra: course" in meta


def test_course_utils_imports_from_the_published_tree(published, tmp_path):
    """Does `import course_utils` (and its checks and grading modules) work from the published tree alone?"""
    code = (
        "import course_utils, course_utils.checks, course_utils.grading, course_utils.data\n"
        "print(course_utils.__file__)\n"
        "print(course_utils.config.REPO_URL)\n"
        "print(course_utils.data.SUBSET_DIR)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(published)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    where, url, subset = proc.stdout.split()
    assert Path(where).resolve() == (published / "course_utils" / "__init__.py").resolve()
    assert url == URL
    assert Path(subset).resolve() == (published / "data" / "fashion-mnist-subset").resolve()
    assert any(Path(subset).iterdir())
