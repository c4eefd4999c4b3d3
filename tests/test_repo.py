"""Repository hygiene: dependency lists agree, notebooks carry no outputs, URLs in sync."""

import json
import re
import subprocess
import sys
import tomllib

import nbformat
import pytest
import yaml
from nbexec import NOTEBOOKS, REPO, chapter_notebooks


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ @]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _environment_pip():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return [r for r in pip if not r.startswith("-")]


def test_environment_yml_agrees_with_pyproject():
    """Do environment.yml and pyproject.toml name the same packages with the same bounds?"""
    project = _pyproject()
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    py = {_name(r): r.replace(" ", "") for r in declared}
    env = {_name(r): r.replace(" ", "") for r in _environment_pip()}
    assert sorted(set(py) - set(env)) == [], "in pyproject.toml but not environment.yml"
    assert sorted(set(env) - set(py)) == [], "in environment.yml but not pyproject.toml"
    assert {k: v for k, v in py.items() if env[k] != v} == {}, "version bounds differ"


def test_design_packages_are_declared_with_comments():
    """Are the design's core packages listed, each with a comment saying what it is for?"""
    core = ["tensorflow", "jupyterlab", "nbgrader", "matplotlib", "numpy", "pydot", "tensorboard"]
    for path in ("pyproject.toml", "environment.yml"):
        lines = (REPO / path).read_text().splitlines()
        for pkg in core:
            hits = [ln for ln in lines if re.search(rf"[\"' -]{pkg}[<>=]", ln)]
            assert hits, f"{pkg} missing from {path}"
            assert all("#" in ln for ln in hits), f"{pkg} in {path} has no comment"


def test_constraints_pin_the_tested_versions():
    """Does constraints.txt pin TensorFlow 2.21, Keras 3 and nbgrader 0.9 exactly?"""
    pins = dict(
        line.split("==")
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line
    )
    pins = {k.lower(): v for k, v in pins.items()}
    assert pins["tensorflow"].startswith("2.21.")
    assert pins["keras"].startswith("3.")
    assert pins["nbgrader"].startswith("0.9.")
    assert pins["jupyterlab"].startswith("4.")
    assert "keras-deep-dive" not in pins


def test_dependencies_are_ranges_not_pins():
    """Are the package's own dependencies ranges, so Colab keeps its own TensorFlow?"""
    project = _pyproject()
    for req in project["dependencies"] + sum(project["optional-dependencies"].values(), []):
        assert "==" not in req, req


TF_BUILDS = {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tf-nightly"}


def test_tensorflow_is_the_tf_extra_not_a_dependency():
    """Is TensorFlow only in the `tf` extra, which make install and environment.yml do install?

    A dependency named `tensorflow` makes pip add a second TensorFlow on top of tensorflow-cpu
    (or tf-nightly, a vendor build) and break both: tests/test_install.py shows it for real.
    """
    project = _pyproject()
    extras = project["optional-dependencies"]
    assert [r for r in project["dependencies"] if _name(r) in TF_BUILDS] == []
    for name, reqs in extras.items():
        if name != "tf":
            assert [r for r in reqs if _name(r) in TF_BUILDS] == [], f"extra {name!r}"
    assert [r.replace(" ", "") for r in extras["tf"]] == ["tensorflow>=2.16"]
    make = (REPO / "Makefile").read_text()
    assert re.search(r"pip install .*-c constraints\.txt -e '\.\[tf,course,dev\]'", make)
    assert "tensorflow>=2.16" in [r.replace(" ", "") for r in _environment_pip()]
    from course_utils import config

    assert config.MIN_TENSORFLOW == "2.16"


def test_no_notebook_is_committed_with_outputs():
    """Do all notebooks (chapters, release copies, fixtures) come without outputs or counts?"""
    paths = [
        *NOTEBOOKS.rglob("*.ipynb"),
        *(REPO / "autograder").rglob("*.ipynb"),
        *(REPO / "tests").rglob("*.ipynb"),
    ]
    assert paths
    dirty = []
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
                dirty.append(str(path.relative_to(REPO)))
                break
    assert dirty == []


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.name)
def test_chapter_follows_the_opening_convention(path):
    """Does each chapter open with title, Colab badge to its student copy, and the Setup cells?"""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0].source
    assert first.startswith("# ")
    assert f"autograder/release/{path.stem}/{path.stem}.ipynb" in first
    setup = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## 环境准备"))
    bootstrap, imports = nb.cells[setup + 1].source, nb.cells[setup + 2].source
    assert '"google.colab" in sys.modules' in bootstrap and "%pip install" in bootstrap
    assert "course_utils.require(" in imports
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_repo_url_in_sync():
    """Do every notebook's badge and bootstrap, and the README, match course_utils.REPO_URL?"""
    out = subprocess.run(
        [sys.executable, "scripts/sync_repo_url.py", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_sync_repo_url_rewrites_a_fork(tmp_path):
    """Would a fork's URL reach both the badge and the %pip line of a notebook?"""
    sys.path.insert(0, str(REPO / "scripts"))
    import sync_repo_url

    src = (
        "[![Open In Colab](b.svg)](https://colab.research.google.com/github/old/repo/blob/main/"
        'autograder/release/00_x/00_x.ipynb)\n%pip install -q "keras-deep-dive @ git+https://'
        'github.com/old/repo@main"'
    )
    out = sync_repo_url.sync_text(src, "00_x")
    assert "github.com/old" not in out and "github/old" not in out
    from course_utils.config import REPO_URL

    assert out.count(REPO_URL.removeprefix("https://github.com/")) == 2


def test_nbstripout_keeps_nbgrader_metadata(tmp_path):
    """Does the pre-commit nbstripout setting strip outputs but keep nbgrader metadata and ids?"""
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    cell = new_code_cell(
        "1 + 1",
        id="keep-me",
        execution_count=3,
        outputs=[new_output("execute_result", {"text/plain": "2"}, execution_count=3)],
    )
    cell.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "ch00_x",
        "points": 2,
        "locked": True,
        "solution": False,
        "schema_version": 3,
    }
    path = tmp_path / "n.ipynb"
    nbformat.write(new_notebook(cells=[cell]), path)
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    hook = next(h for r in config["repos"] for h in r["hooks"] if h["id"] == "nbstripout")
    subprocess.run(
        [str(REPO / ".venv/bin/nbstripout"), *hook.get("args", []), str(path)], check=True
    )
    stripped = nbformat.read(path, as_version=4).cells[0]
    assert stripped.outputs == [] and stripped.execution_count is None
    assert stripped.metadata["nbgrader"]["grade_id"] == "ch00_x"
    assert stripped.id == "keep-me"


def test_ci_runs_exactly_the_readme_test_command():
    """Does .ci/run call `make test`, the README's test command, and is `make lab` documented?"""
    ci = (REPO / ".ci/run").read_text()
    commands = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.startswith("#")]
    assert commands[-1] == "make test"
    readme = (REPO / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    assert re.findall(r"^make \w+", quick, flags=re.M) == ["make lab", "make test"]
