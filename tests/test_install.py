"""The course installs next to the TensorFlow a user already has, and the README's path without make.

One virtual environment, made the way README.md's "Without make (Windows)" section says, holds
``tensorflow-cpu==2.16.2`` (a common CPU-server install) before the course goes in with the
README's "Already have TensorFlow?" command. The tests check that pip kept that TensorFlow (no
second build, numpy still 1.x), that chapter 00 runs there at small size, and that the README's
last two lines (``python -m course_utils.workspace``, then ``jupyter lab``) serve the student's
own copies of the chapters, without solutions or hidden tests. The README's fresh-install line
(``.[tf,course]``) is resolved there with ``pip --dry-run``: it would add ``tensorflow``
(installing TensorFlow 2.21 for real takes minutes), which is why the README says to leave
``tf`` out over an existing one.

Needs PyPI (the wheels); skipped only when PyPI cannot be reached and never in CI (``CI=true``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbexec import REPO

TF_CPU = "tensorflow-cpu==2.16.2"
# Every file git would put in a commit of the working tree (tracked and new, not ignored).
_LS_FILES = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]


# ---------------------------------------------------------------- helpers (test_colab uses them)


def pypi_reachable() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=5):
            return True
    except OSError:
        return False


def need_pypi() -> None:
    """Skip when PyPI cannot be reached, except in CI, where these tests must run."""
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes") and not pypi_reachable():
        pytest.skip("PyPI is not reachable (pypi.org:443): cannot build the test environment")


def working_tree_copy(dest: Path) -> Path:
    """Copy what is on disk now (tracked and untracked, not ignored files) to ``dest``."""
    names = subprocess.run(_LS_FILES, cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, names.decode().split("\0")):
        src = REPO / name
        if src.is_file():  # a tracked file deleted on disk is not copied
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def venv_env(venv: Path, **extra: str) -> dict[str, str]:
    """The environment of a shell where ``venv`` is activated (what `activate` does)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.pop("PIP_CONSTRAINT", None)
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    env.update(extra)
    return env


def run(cmd, cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    """Run a command; on failure show its output (the pip resolver's story)."""
    shell = isinstance(cmd, str)
    out = subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        shell=shell,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, (
        f"{cmd!r} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
    )
    return out.stdout


def freeze(python: Path) -> dict[str, str]:
    """``{distribution: version}`` of everything installed in the environment of ``python``."""
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {d["name"].lower().replace("_", "-"): d["version"] for d in json.loads(out.stdout)}


def kernel_client(python: Path, nb, cwd: Path, workdir: Path, timeout: int = 600):
    """An nbclient NotebookClient whose kernel is ``python``'s (another virtual environment)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    spec = workdir / "kernels" / "venv"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "venv",
                "language": "python",
            }
        )
    )
    ksm = KernelSpecManager(kernel_dirs=[str(spec.parent)])
    km = KernelManager(kernel_name="venv", kernel_spec_manager=ksm)
    return NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(cwd)}})


def error_outputs(nb) -> list[str]:
    return [
        f"{o.get('ename')}: {o.get('evalue')}"
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]


def setup_banner(nb) -> str:
    """The text the Setup cell printed ("TensorFlow 2.x | Keras 3.x | size: small")."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            if "TensorFlow " in text and "size:" in text:
                return text
    raise AssertionError("the Setup cell printed no version banner")


def readme_block(after: str) -> list[str]:
    """The lines of the first fenced code block after the line ``after`` in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert after in text, f"README.md lost the section {after!r}"
    block = re.search(r"```[a-z]*\n(.*?)```", text.split(after, 1)[1], flags=re.S)
    assert block, f"no code block after {after!r} in README.md"
    return [ln.strip() for ln in block.group(1).splitlines() if ln.strip()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the tensorflow-cpu 2.16 env

WINDOWS = readme_block("### Without make (Windows)")
HAVE_TF = readme_block("**Already have TensorFlow?**")


@pytest.fixture(scope="module")
def tf216(tmp_path_factory):
    """A student's clone with the README's venv, holding tensorflow-cpu 2.16.2, then the course.

    The README's lines run as written (the Windows `activate` line becomes the environment
    it sets up); the user's TensorFlow goes in between `activate` and the course install.
    """
    need_pypi()
    root = tmp_path_factory.mktemp("tf216")
    clone = working_tree_copy(root / "keras-deep-dive")
    venv = clone / ".venv"
    make_venv, activate, upgrade_pip, *_ = WINDOWS
    assert make_venv == "python -m venv .venv" and activate == r".venv\Scripts\activate"
    assert upgrade_pip == "python -m pip install --upgrade pip"
    run([sys.executable, "-m", "venv", ".venv"], cwd=clone, env=dict(os.environ))
    env = venv_env(venv)
    python = venv / "bin" / "python"
    run(upgrade_pip, cwd=clone, env=env)
    run(f"python -m pip install -q {TF_CPU}", cwd=clone, env=env)
    before = freeze(python)
    (install,) = HAVE_TF
    assert install == 'python -m pip install -e ".[course]"', install
    run(install, cwd=clone, env=env)
    return {"clone": clone, "venv": venv, "python": python, "env": env, "before": before}


def test_course_install_keeps_tensorflow_cpu_216(tf216):
    """Does `pip install -e ".[course]"` keep tensorflow-cpu 2.16.2 working (no second TF)?"""
    after = freeze(tf216["python"])
    before = tf216["before"]
    assert after["tensorflow-cpu"] == "2.16.2"
    assert "keras-deep-dive" in after and "jupyterlab" in after and "nbgrader" in after
    builds = sorted(n for n in after if n in ("tensorflow", "tf-nightly", "tensorflow-intel"))
    assert builds == [], f"a second TensorFlow was installed: {builds}"
    # What TF 2.16 is built against stays: numpy 1.x, its protobuf and ml-dtypes.
    for name in ("numpy", "protobuf", "ml-dtypes", "keras", "tensorboard"):
        assert after[name] == before[name], f"{name} changed: {before[name]} -> {after[name]}"
    assert int(after["numpy"].split(".")[0]) < 2
    code = (
        "import json, numpy, tensorflow as tf, course_utils\n"
        "from course_utils import config\n"
        "found = course_utils.require(tensorflow='2.16', keras='3.0')\n"
        "x = tf.constant([[1.0, 2.0]]) @ tf.constant([[3.0], [4.0]])\n"
        "print(json.dumps({'tf': tf.__version__, 'numpy': numpy.__version__, 'found': found,\n"
        "  'builds': config.tensorflow_builds(), 'x': float(x.numpy()[0, 0]),\n"
        "  'course_utils': course_utils.__file__}))"
    )
    out = run([str(tf216["python"]), "-c", code], cwd=tf216["clone"], env=tf216["env"])
    info = json.loads(out.strip().splitlines()[-1])
    assert info["tf"] == "2.16.2" and info["numpy"].startswith("1.")
    assert info["found"]["tensorflow"] == "2.16.2"
    assert info["builds"] == [["tensorflow-cpu", "2.16.2"]]
    assert info["x"] == 11.0
    assert Path(info["course_utils"]).is_relative_to(tf216["clone"])


def test_tf_extra_would_replace_tensorflow_cpu(tf216):
    """Attack: is `tf` really what brings TensorFlow, so that leaving it out is what keeps 2.16?

    pip only knows distribution names: the README's fresh-install line, run on top of
    tensorflow-cpu, would add `tensorflow`. That is why TensorFlow is an extra, not a dependency.
    """
    (line,) = [ln for ln in WINDOWS if "pip install -e" in ln]
    assert line == 'python -m pip install -e ".[tf,course]"', line
    report = tf216["clone"].parent / "dry-run.json"
    run(
        f"{line} --dry-run --quiet --report {report}",
        cwd=tf216["clone"],
        env=tf216["env"],
    )
    planned = {
        i["metadata"]["name"].lower(): i["metadata"]["version"]
        for i in json.loads(report.read_text())["install"]
    }
    assert "tensorflow" in planned, planned
    assert tuple(int(p) for p in planned["tensorflow"].split(".")[:2]) >= (2, 16)


def test_chapter_runs_on_tensorflow_216(tf216, tmp_path):
    """Does the first chapter run top to bottom, at small size, on tensorflow-cpu 2.16?"""
    from autograder.paths import chapters

    stem, _ = next(iter(chapters().items()))
    path = tf216["clone"] / "notebooks" / f"{stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    client = kernel_client(tf216["python"], nb, path.parent, tmp_path)
    client.execute(
        env=venv_env(
            tf216["venv"],
            COURSE_SIZE="small",
            TF_CPP_MIN_LOG_LEVEL="2",
            MPLBACKEND="module://matplotlib_inline.backend_inline",
        )
    )
    assert error_outputs(nb) == []
    banner = setup_banner(nb)
    assert "TensorFlow 2.16.2" in banner and "size: small" in banner, banner


def test_readme_jupyter_lab_serves_the_students_workspace(tf216):
    """Do the README's workspace and `jupyter lab` lines, in that venv, serve the student's own
    copies of the chapters (no solutions, no hidden tests) and open chapter 00?"""
    (make_workspace,) = [ln for ln in WINDOWS if "course_utils.workspace" in ln]
    assert make_workspace == "python -m course_utils.workspace", make_workspace
    (line,) = [ln for ln in WINDOWS if ln.startswith("jupyter lab")]
    assert WINDOWS[-2:] == [make_workspace, line]
    out = run(make_workspace, cwd=tf216["clone"], env=tf216["env"])
    released = sorted(
        p.name for p in (tf216["clone"] / "autograder" / "release").glob("*/[0-9][0-9]_*.ipynb")
    )
    workspace = tf216["clone"] / "workspace"
    assert sorted(p.name for p in workspace.glob("*.ipynb")) == released, out
    assert f"copied {len(released)} chapter(s)" in out
    port, token = _free_port(), "readme-test-token"
    # Test-only flags: a free port, no browser, a known token; root needs --allow-root.
    extra = f" --no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0"
    extra += f" --IdentityProvider.token={token}"
    if os.getuid() == 0:
        extra += " --allow-root"
    # `jupyter` is the venv's own (the course extra brought it), not one found elsewhere.
    path = tf216["env"]["PATH"]
    assert shutil.which("jupyter", path=path) == str(tf216["venv"] / "bin" / "jupyter")
    proc = subprocess.Popen(
        line + extra,
        shell=True,
        cwd=tf216["clone"],
        env=tf216["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline, listing, last = time.time() + 120, None, None
        while time.time() < deadline and listing is None:
            assert proc.poll() is None, f"jupyter lab exited:\n{proc.stdout.read().decode()}"
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/contents?content=1",
                    headers={"Authorization": f"token {token}"},
                )
                with urllib.request.urlopen(req, timeout=5) as resp:
                    listing = json.load(resp)
            except OSError as exc:
                last = exc
                time.sleep(1)
        assert listing is not None, f"jupyter lab never answered: {last}"
        # Given a notebook, JupyterLab serves its folder (workspace/) and opens it: the student
        # copies alone, no instructor notebook.
        names = {item["name"] for item in listing["content"]}
        first = Path(line.split()[-1])
        assert first.parent.name == "workspace" and first.name == released[0]
        assert names == set(released), names
        for name in released:
            text = (workspace / name).read_text(encoding="utf-8")
            assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text
        url = f"http://127.0.0.1:{port}/lab/tree/{first.name}?token={token}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200 and b"JupyterLab" in resp.read()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
