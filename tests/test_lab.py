"""`make lab`: the student's own copies in workspace/, served alone; `make instructor`; `make help`."""

import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from nbexec import REPO

RELEASE = REPO / "autograder" / "release"
# What only the instructor copies hold: nbgrader's solution and hidden-test regions, and the
# grader's judging calls.
INSTRUCTOR_ONLY = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "expect(")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _released() -> list[str]:
    """The file names of the student copies, in chapter order (what a workspace holds)."""
    return sorted(p.name for p in RELEASE.glob("[0-9][0-9]_*/[0-9][0-9]_*.ipynb"))


@contextlib.contextmanager
def make_lab(workspace: Path):
    """``make lab WORKSPACE=<workspace>`` on a free port; yields (URL it printed, its output).

    The token is JupyterLab's own (not given), so the only way in is the URL `make lab` prints.
    The server is always stopped (its process group, which `make` leads).
    """
    port = _free_port()
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0"
    proc = subprocess.Popen(
        ["make", "lab", f"LAB_ARGS={args}", f"WORKSPACE={workspace}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(ln.decode(errors="replace") for ln in proc.stdout),
        daemon=True,
    )
    reader.start()
    url_re = re.compile(rf"http://127\.0\.0\.1:{port}/lab/tree/\S+\?token=[0-9a-f]+")
    try:
        deadline, url = time.monotonic() + 180, None
        while time.monotonic() < deadline and url is None:
            if proc.poll() is not None:
                time.sleep(0.5)
                raise AssertionError(f"make lab exited early:\n{''.join(lines)}")
            url = next((m.group() for ln in list(lines) if (m := url_re.search(ln))), None)
            time.sleep(0.5)
        output = "".join(lines)
        assert url is not None, f"make lab printed no URL to open:\n{output[-3000:]}"
        yield url, output
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _api(url: str, path: str):
    """GET ``/api/<path>`` on the server of ``url`` (the printed URL), with its token."""
    base, token = url.split("/lab/tree/")[0], url.rsplit("token=", 1)[1]
    req = urllib.request.Request(f"{base}/api/{path}", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def _served_notebooks(url: str) -> dict[str, str]:
    """``{name: raw text}`` of every notebook in the folder JupyterLab serves at its root."""
    listing = _api(url, "contents?content=1")
    return {
        item["name"]: _api(url, f"contents/{item['name']}?type=file&format=text&content=1")[
            "content"
        ]
        for item in listing["content"]
        if item["type"] == "notebook"
    }


def test_make_lab_serves_the_students_own_copies(tmp_path):
    """Does `make lab` make the student's workspace, serve it alone, and keep their work?

    First run: the chapters are copied into the workspace, `make lab` says where to start, its
    printed URL opens chapter 00, and the root JupyterLab serves holds the student copies alone:
    no instructor notebook, no solution, no hidden test. Second run, after the student edited
    chapter 00 and deleted chapter 01, and chapter 02 is an older release than the current one:
    the edit is kept, 01 comes back, and one line says 02 has a newer release (02 untouched).
    """
    workspace = tmp_path / "workspace"
    released = _released()
    first = released[0]
    assert first.startswith("00_") and len(released) >= 9
    with make_lab(workspace) as (url, output):
        # Before JupyterLab's own log: where to start, in Chinese and English.
        assert f"从这一章开始 (start with): {first}" in output
        assert "打开它打印的网址 (open the URL it prints" in output
        assert f"copied {len(released)} chapter(s)" in output
        # The printed URL opens the first chapter, and its token lets one in.
        assert url.split("?")[0].endswith(f"/lab/tree/{first}"), url
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
        root = {item["name"] for item in _api(url, "contents?content=1")["content"]}
        assert root == set(released), root  # no notebooks/, no AUTHORING.md
        served = _served_notebooks(url)
        assert sorted(served) == released
        for name, text in served.items():
            assert [m for m in INSTRUCTOR_ONLY if m in text] == [], name
        # Each is the copy of its release (compared by the hash recorded when it was copied:
        # the release itself may be regenerated meanwhile).
        copied = json.loads((workspace / ".course-release.json").read_text())["copied"]
        assert {name: _sha(text) for name, text in served.items()} == copied
        # Without the token the API refuses: the printed URL is the way in.
        base = url.split("/lab/tree/")[0]
        try:
            urllib.request.urlopen(f"{base}/api/contents", timeout=10)
            raise AssertionError("the server answered without a token")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403

    # The student works in chapter 00 and deletes chapter 01.
    mine = workspace / first
    nb = json.loads(mine.read_text(encoding="utf-8"))
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "我的笔记 42"})
    mine.write_text(json.dumps(nb, ensure_ascii=False, indent=1), encoding="utf-8")
    edited = mine.read_text(encoding="utf-8")
    (workspace / released[1]).unlink()
    # Chapter 02 as an older release would have left it: another file, recorded as copied.
    older = workspace / released[2]
    nb = json.loads(older.read_text(encoding="utf-8"))
    nb["cells"] = nb["cells"][:-1]
    older.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    older_text = older.read_text(encoding="utf-8")
    manifest_path = workspace / ".course-release.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["copied"][released[2]] = _sha(older_text)
    manifest_path.write_text(json.dumps(manifest))
    with make_lab(workspace) as (url, output):
        served = _served_notebooks(url)
        assert served[first] == edited  # the student's work, not the release
        assert sorted(served) == released  # 01 is back
        assert served[released[2]] == older_text  # 02 untouched
        (newer,) = [ln for ln in output.splitlines() if "newer release" in ln]
        # (Other chapters too, when the release was regenerated since the first run.)
        assert "新版本" in newer and released[2] in newer.split("): ", 1)[1].split(", ")
        assert "copied 1 chapter(s)" in output and released[1] in output
    assert mine.read_text(encoding="utf-8") == edited


def test_lab_and_instructor_targets_serve_the_right_folders():
    """`make lab` serves workspace/ by default; `make instructor` notebooks/, loudly."""
    lab = subprocess.run(["make", "-n", "lab"], cwd=REPO, capture_output=True, text=True)
    assert lab.returncode == 0, lab.stderr
    assert f'--ServerApp.root_dir="{REPO / "workspace"}"' in lab.stdout
    assert f'-m course_utils.workspace --dest "{REPO / "workspace"}"' in lab.stdout
    instructor = subprocess.run(
        ["make", "-n", "instructor"], cwd=REPO, capture_output=True, text=True
    )
    assert instructor.returncode == 0, instructor.stderr
    assert f'--ServerApp.root_dir="{REPO}"' in instructor.stdout
    assert "INSTRUCTOR COPY" in instructor.stdout and "SOLUTIONS" in instructor.stdout
    assert "/lab/tree/notebooks/00_" in instructor.stdout
    assert "course_utils.workspace" not in instructor.stdout


def test_make_help_lists_every_target():
    """Does `make` (and `make help`) list every target with what it does, without installing?"""
    makefile = (REPO / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, flags=re.M).group(1).split()
    for command in (["make", "help"], ["make"]):
        out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        listed = dict(re.findall(r"^  make (\w+)\s+(.+)$", out.stdout, flags=re.M))
        assert sorted(listed) == sorted(phony), out.stdout
        assert all(len(text) > 10 for text in listed.values()), listed
        assert "pip install" not in out.stdout and "venv" not in out.stdout.split("\n")[0]
    dry = subprocess.run(["make", "-n", "help"], cwd=REPO, capture_output=True, text=True)
    assert "pip" not in dry.stdout and "install_system_deps" not in dry.stdout
