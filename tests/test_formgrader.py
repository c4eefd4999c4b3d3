"""Grading by hand in formgrader, end to end (issue 19 item 4).

A tiny class of the fixture chapter ``91_written`` (two autograded exercises and one written
answer graded by hand, its rubric in the instructor copy) is graded by ``python -m autograder
grade`` in two shards at once into one course folder (``--course``) and one gradebook. Then:

* without a browser: the course folder is nbgrader's layout (``submitted/``, ``autograded/``,
  ``nbgrader_config.py``), the graded notebooks hold no hidden test, expected value or rubric and
  carry the student copy's checksums, the gradebook leaves the written answer to a human, and
  stock ``nbgrader export`` / ``nbgrader generate_feedback`` run on the folder;
* in Debian's Chromium (Playwright, as ``tests/test_browser.py`` drives it): JupyterLab started
  in the course folder serves formgrader; the test opens the chapter's submissions in
  formgrader's gradebook, opens one student's graded notebook, types a score for the written
  answer, and ``nbgrader export`` then shows it; ``generate_feedback``'s HTML shows the score
  and no hidden-test text.

Outside CI the browser test skips, with the reason, when Chromium or Playwright cannot start;
under ``CI=true`` it fails instead.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
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
from servers import require_server

sys.path.insert(0, str(REPO))

from autograder.merge import shard_of  # noqa: E402
from autograder.release import Release  # noqa: E402

SOURCE = REPO / "tests" / "autograder" / "fixtures" / "formgrader"
STEM = "91_written"
WRITTEN = "ch91_why_hidden"
COURSE_ID = "keras-deep-dive"
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
BIN = Path(sys.executable).parent
# Text that exists only in the instructor copy: a hidden test's line, an expect, the rubric.
SECRETS = ("SECRET_HIDDEN_MARKER", "BEGIN HIDDEN TESTS", "expect(", "RUBRIC_SECRET_MARKER",
           "MARK SCHEME")  # fmt: skip
ANSWER = "WRITTEN_ANSWER_OF_ANN: 隐藏测试用学生看不到的输入。<script>alert(1)</script>"
MINUTE_MS = 60_000


def _two_students() -> tuple[str, str]:
    """Two student ids in different shards of 2 (the answered one first)."""
    names = [f"s{i}" for i in range(50)]
    first = names[0]
    second = next(n for n in names if shard_of(n, 2) != shard_of(first, 2))
    return first, second


ANN, BOB = _two_students()


def _class(root: Path) -> None:
    """``ANN``: both exercises and the written answer; ``BOB``: the blank student copy."""
    instructor = nbformat.read(str(SOURCE / f"{STEM}.ipynb"), as_version=4)
    blank = Release().render(SOURCE / f"{STEM}.ipynb")
    solutions = {
        c.metadata.nbgrader["grade_id"]: re.sub(r" *### (BEGIN|END) SOLUTION\n?", "", c.source)
        for c in instructor.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    }
    nb = nbformat.reads(blank, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in solutions:
            cell.source = solutions[gid]
        elif gid == WRITTEN:
            cell.source = f"**你的回答：**\n\n{ANSWER}"
    for student, text in ((ANN, nbformat.writes(nb)), (BOB, blank)):
        (root / student).mkdir(parents=True)
        (root / student / f"{STEM}.ipynb").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """The course folder after grading the class in two shards at once."""
    root = tmp_path_factory.mktemp("formgrader")
    subs, course = root / "submissions", root / "course"
    _class(subs)
    db = f"sqlite:///{course / 'gradebook.db'}"
    env = dict(os.environ, COURSE_SIZE="full")  # grading forces small size by itself
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autograder",
                "grade",
                str(subs),
                "--shard",
                f"{k}/2",
                "--out",
                str(root / "results" / f"grades-{k}.csv"),
                "--course",
                str(course),
                "--db",
                db,
                "--source",
                str(SOURCE),
                "--no-progress",
                "--cell-timeout",
                "120",
                "--timeout",
                "600",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for k in range(2)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=1200)
        assert proc.returncode == 0, out[-4000:]
    rows = {}
    for k in range(2):
        with open(root / "results" / f"grades-{k}.csv", newline="", encoding="utf-8") as fh:
            rows.update({r["student_id"]: r for r in csv.DictReader(fh)})
    assert rows[ANN]["score"] == "3" and rows[BOB]["score"] == "0", rows
    for row in rows.values():
        assert row["max_score"] == "3" and "2 points need manual grading" in row["message"], row
    return course


def _nbgrader(course: Path, *args: str, timeout: float = 600) -> str:
    proc = subprocess.run(
        [str(BIN / "nbgrader"), *args], cwd=course, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout + proc.stderr


def _export(course: Path) -> dict[str, tuple[float, float]]:
    _nbgrader(course, "export", "--to", "export.csv")
    with open(course / "export.csv", newline="", encoding="utf-8") as fh:
        return {
            r["student_id"]: (float(r["score"]), float(r["max_score"]))
            for r in csv.DictReader(fh)
            if r["assignment"] == STEM
        }


def test_grading_writes_nbgraders_course_layout(course):
    """Submitted and graded notebooks where nbgrader looks, no secret in them, the student
    copy's checksums, the written answer left to a human; stock export and feedback run."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import compute_checksum, determine_grade

    config = (course / "nbgrader_config.py").read_text(encoding="utf-8")
    assert f"c.CourseDirectory.db_url = 'sqlite:///{course / 'gradebook.db'}'" in config
    assert f"c.CourseDirectory.course_id = {COURSE_ID!r}" in config
    student_copy = nbformat.reads(Release().render(SOURCE / f"{STEM}.ipynb"), as_version=4)
    sums = {
        c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader["checksum"]
        for c in student_copy.cells
        if "nbgrader" in c.metadata
    }
    for student in (ANN, BOB):
        assert (course / "submitted" / student / STEM / f"{STEM}.ipynb").is_file()
        path = course / "autograded" / student / STEM / f"{STEM}.ipynb"
        text = path.read_text(encoding="utf-8")
        for secret in SECRETS:
            assert secret not in text, f"{path}: {secret!r}"
        nb = nbformat.read(str(path), as_version=4)
        graded = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
        assert {g: c.metadata.nbgrader["checksum"] for g, c in graded.items()} == sums
        written = graded[WRITTEN]
        # nbgrader's own rule: an answer left as released is "no response" (0), else a human's.
        expected = (0, 2.0) if student == BOB else (None, 2.0)
        assert determine_grade(written, None) == expected
        assert (compute_checksum(written) == sums[WRITTEN]) == (student == BOB)
    ann = (course / "autograded" / ANN / STEM / f"{STEM}.ipynb").read_text(encoding="utf-8")
    assert "WRITTEN_ANSWER_OF_ANN" in ann and "<script>" not in ann
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        grade = gb.find_grade(WRITTEN, STEM, STEM, ANN)
        assert (grade.auto_score, grade.manual_score, grade.needs_manual_grade) == (
            None,
            None,
            True,
        )
    assert _export(course) == {ANN: (3.0, 5.0), BOB: (0.0, 5.0)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _lab(course: Path, log_path: Path):
    """JupyterLab in the course folder (formgrader reads its nbgrader_config.py); stopped after."""
    port, token = _free_port(), "formgrader-test-token"
    env = dict(os.environ)
    env["JUPYTERLAB_SETTINGS_DIR"] = str(course.parent / "lab-settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(course.parent / "lab-workspaces")
    args = [
        str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={course}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        args.append("--allow-root")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args, cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                req = urllib.request.Request(
                    f"{base}/api/status", headers={"Authorization": f"token {token}"}
                )
                with urllib.request.urlopen(req, timeout=5) as resp:
                    if resp.status == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError("JupyterLab never answered")
            time.sleep(0.5)
        yield base, token
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


@pytest.mark.timeout(900)
def test_manual_score_entered_in_formgrader_reaches_export(course, tmp_path):
    """Formgrader opens the graded notebook; a score typed for the written answer is in
    `nbgrader export`, and `generate_feedback` shows it without any hidden test."""
    if not CHROMIUM.exists():
        require_server(f"{CHROMIUM} missing: `make install` installs Debian's chromium")
    try:
        from playwright import sync_api as playwright_api
        from playwright.sync_api import expect
    except ImportError as exc:
        require_server(f"playwright cannot be imported: {exc}")
    log_path = tmp_path / "jupyterlab.log"
    page = None
    with _lab(course, log_path) as (base, token), playwright_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
        except Exception as exc:  # noqa: BLE001 - no usable browser here
            require_server(f"chromium does not start through playwright: {exc}")
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(2 * MINUTE_MS)
            page.goto(f"{base}/formgrader?token={token}")
            # The chapter's submissions in formgrader's gradebook, then ANN's graded notebook.
            page.goto(f"{base}/formgrader/gradebook/{STEM}/{STEM}")
            expect(page.locator("a.name-shown")).to_have_count(2)
            page.locator("#toggle_names", has_text="Show All Names").click()  # names hidden
            page.locator("a.name-shown", has_text=ANN).click()
            score = page.locator(f"input#{WRITTEN}")
            expect(score).to_be_visible()
            body = page.content()
            assert "WRITTEN_ANSWER_OF_ANN" in body
            for secret in SECRETS:
                assert secret not in body, secret
            # Formgrader's scripts bind the inputs after the page has rendered them: a value
            # typed before that is lost without a request (seen on a loaded machine). Wait for
            # the page to settle, then type again if no PUT followed.
            page.wait_for_load_state("networkidle")
            saved = None
            for _ in range(4):
                try:
                    with page.expect_response(
                        lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT",
                        timeout=MINUTE_MS // 2,
                    ) as response:
                        score.fill("")
                        score.fill("1.5")
                        score.press("Tab")
                    saved = response.value
                    break
                except playwright_api.TimeoutError:
                    continue
            assert saved is not None, "formgrader sent no PUT for the typed score"
            assert saved.ok and json.loads(saved.text())["manual_score"] == 1.5
        except BaseException:
            if page is not None:
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                    print(f"screenshot: {tmp_path / 'failure.png'}; server log: {log_path}")
            raise
        finally:
            browser.close()

    assert _export(course)[ANN] == (4.5, 5.0)  # 3 autograded + 1.5 by hand, of 3 + 2
    _nbgrader(course, "generate_feedback", STEM, "--force")
    for student in (ANN, BOB):
        html = (course / "feedback" / student / STEM / f"{STEM}.html").read_text(encoding="utf-8")
        for secret in SECRETS:
            assert secret not in html, f"{student}: {secret!r} in the feedback"
    html = (course / "feedback" / ANN / STEM / f"{STEM}.html").read_text(encoding="utf-8")
    assert "Score: 4.5 / 5.0" in html and "WRITTEN_ANSWER_OF_ANN" in html
