"""The course where students meet it: JupyterLab in a real browser, with nbgrader's Validate.

One test starts JupyterLab exactly as ``make lab`` does (free port, token), drives Debian's
headless Chromium through Playwright (``executable_path``, no browser download) and works
through a student copy from ``autograder/release/`` the way a student does: open it, type a
wrong answer into an exercise, Run All, read the check's Chinese feedback under the check
cell, type the right answer (the instructor notebook's solution), run the exercise and its check
again and see it pass, then press nbgrader's Validate button (the other exercises answered with
their solutions too) and read "Success!" in the validation dialog.

The server is the ``make lab`` command itself, given ``LAB_ARGS`` (port, token, no browser) and
its own empty JupyterLab settings and workspaces folders (``JUPYTERLAB_SETTINGS_DIR``,
``JUPYTERLAB_WORKSPACES_DIR``), so that a developer's own settings cannot change what the test
sees; it is shut down through its API, then by signal, and any kernel left is killed by its id.
The student's workspace is a fresh folder under ``tmp_path`` (``make lab WORKSPACE=...``: the
lab's root is that folder, as ``workspace/`` is for a student), so neither the committed release
nor a real ``workspace/`` is touched, and cells are found by their grade_id and the text they
show, never by position: an answer cell by its first line, the hint comment that names its
grade_id (``course_utils.hint("<grade_id>")``; every answer typed keeps it), a check cell by its
check call. The check's Chinese failure message and its one success line (a check returns None:
no ``Out:`` value) are computed by the test from course_utils. The server must run in the
repository root (its working directory is checked) while it serves the workspace, since
nbgrader's Validate reads the root's ``nbgrader_config.py``.

On failure a screenshot of the page, the page's HTML, the server log and the notebook as last
saved are written to the test's ``tmp_path`` (their paths are printed); the screenshot, HTML and
log are also copied to ``test-artifacts/test_browser/`` at the repository root.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from nbexec import REPO
from playwright import sync_api as playwright_api
from playwright.sync_api import expect
from servers import require_server

CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHAPTER = "00_tensors_autodiff"
EXERCISE = "ch00_stable_softmax"


def _answer_ids(path: Path) -> tuple[str, ...]:
    """grade_ids of the notebook's answer cells, in order (the chapter may gain exercises)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    metas = [c["metadata"].get("nbgrader", {}) for c in cells]
    return tuple(m["grade_id"] for m in metas if m.get("solution") and not m.get("grade"))


# Every other exercise gets the instructor's answer, so that Validate can succeed at the end.
OTHER_EXERCISES = tuple(
    g for g in _answer_ids(REPO / "notebooks" / f"{CHAPTER}.ipynb") if g != EXERCISE
)
# A classic mistake: softmax straight from the formula, without subtracting the row maximum.
WRONG_SOFTMAX = '''def stable_softmax(logits):
    """沿最后一个轴计算数值稳定的 softmax。"""
    exps = tf.exp(logits)
    return exps / tf.reduce_sum(exps, axis=-1, keepdims=True)'''
ARTIFACTS = REPO / "test-artifacts" / "test_browser"
MINUTE_MS = 60_000


# --- the notebooks -------------------------------------------------------------------------------


def _cells_by_grade_id(path: Path) -> dict[str, str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return {
        cell["metadata"]["nbgrader"]["grade_id"]: "".join(cell["source"])
        for cell in nb["cells"]
        if cell["metadata"].get("nbgrader", {}).get("grade_id")
    }


def _solution(instructor_source: str) -> str:
    """The instructor's solution cell as a student would type it: the markers dropped."""
    lines = instructor_source.splitlines()
    return "\n".join(
        line
        for line in lines
        if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line
    )


def _expected_messages(wrong_source: str, right_source: str) -> tuple[str, str]:
    """What the chapter's check says for ``wrong_source`` (its error message) and prints for
    ``right_source`` (its one success line), computed here with course_utils, not hard-coded."""
    import io

    import numpy as np
    import tensorflow as tf

    from course_utils import checks

    def answer(source: str):
        namespace = {"tf": tf, "np": np}
        exec(source, namespace)
        return namespace["stable_softmax"]

    with pytest.raises(AssertionError) as failure:
        checks.check_softmax(fn=answer(wrong_source))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        returned = checks.check_softmax(fn=answer(right_source))
    assert returned is None, f"a visible check returns None (no Out:), got {returned!r}"
    return str(failure.value), printed.getvalue().strip()


# --- the server and the browser ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def course_lab(log_path: Path, settings_dir: Path, workspace: Path):
    """``make lab`` on ``workspace``, on a free port with a token; yields (base_url, token);
    always stops it."""
    port, token = _free_port(), "browser-test-token"
    args = (
        f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} "
        "--ServerApp.port_retries=0"
    )
    env = dict(os.environ)
    # A student's kernel draws inline plots; the test process's Agg backend is not theirs.
    env.pop("MPLBACKEND", None)
    # The developer's own JupyterLab settings and saved workspaces stay out of the test.
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings_dir / "settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(settings_dir / "workspaces")
    news = settings_dir / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["make", "lab", f"LAB_ARGS={args}", f"WORKSPACE={workspace}"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, last_error = time.monotonic() + 180, None
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"make lab exited early:\n{log_path.read_text()[-4000:]}")
            try:
                req = urllib.request.Request(
                    f"{base}/api/status", headers={"Authorization": f"token {token}"}
                )
                with urllib.request.urlopen(req, timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError as exc:
                last_error = exc
            if time.monotonic() > deadline:
                raise AssertionError(f"JupyterLab never answered: {last_error}")
            time.sleep(0.5)
        _assert_served_from_repo(proc.pid, workspace)
        yield base, token
    finally:
        _stop(proc, base, token)


def _assert_served_from_repo(make_pid: int, workspace: Path) -> None:
    """The server make started serves ``workspace`` but runs in the repository root: nbgrader's
    Validate reads the ``nbgrader_config.py`` of the server's working directory (its handler's
    ``os.getcwd()``), the root's, which sets the course's cell timeout."""
    servers = []
    for pid in _descendants(make_pid):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            roots = [a.split("=", 1)[1] for a in argv if a.startswith("--ServerApp.root_dir=")]
            if roots:
                servers.append((pid, roots[-1]))
    assert len(servers) == 1, f"expected one JupyterLab server under make, found {servers}"
    pid, root = servers[0]
    assert Path(root).resolve() == workspace.resolve(), (root, workspace)
    cwd = Path(os.readlink(f"/proc/{pid}/cwd")).resolve()
    assert cwd == REPO.resolve(), f"JupyterLab runs in {cwd}, not the repository root"
    assert (cwd / "nbgrader_config.py").is_file()


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) for every process, from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            table[int(stat.parent.name)] = (int(fields[1]), fields[19])
    return table


def _descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` with its start time (kernels run in sessions of their own)."""
    table = _process_table()
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, started) in table.items():
            if ppid == parent and child not in found:
                found[child] = started
                todo.append(child)
    return found


def _stop(proc: subprocess.Popen, base: str, token: str) -> None:
    """Shut the server down as a student's Ctrl+C would, then make sure nothing of it is left."""
    started = _descendants(proc.pid)
    with contextlib.suppress(OSError):
        req = urllib.request.Request(
            f"{base}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
        )
        urllib.request.urlopen(req, timeout=10).close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
    # A kernel the server could not stop: killed by its id, only if it is still the same process.
    table = _process_table()
    for pid, start in started.items():
        if table.get(pid, (None, None))[1] == start:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _code_cell(page, text: str):
    """The notebook's code cell whose input shows ``text`` (exactly one must)."""
    editors = page.locator(".jp-Cell-inputArea .cm-content", has_text=text)
    cell = page.locator(".jp-Notebook .jp-CodeCell").filter(has=editors)
    expect(cell).to_have_count(1, timeout=MINUTE_MS)
    return cell


def _type_into(page, cell, source: str) -> None:
    """Replace the cell's source the way a student does: click, select all, type (paste-like)."""
    editor = cell.locator(".cm-content")
    editor.scroll_into_view_if_needed()
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(source)
    # CodeMirror shows one .cm-line per line: nothing was auto-indented or auto-closed.
    expect(editor.locator(".cm-line")).to_have_text(source.split("\n"), timeout=MINUTE_MS)
    assert editor.locator(".cm-line").all_text_contents() == source.split("\n")


def _run_menu(page, item: str) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(rf"^{re.escape(item)}")).first.click()


# JavaScript: true once no code cell shows "[*]:" (queued or running) in its prompt.
_NOTHING_RUNNING = """() => ![...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
  .some(prompt => prompt.textContent.includes('*'))"""


def _wait_until_ran(page, cell, timeout_ms: int) -> None:
    """Wait until ``cell`` shows an execution count and no cell is queued or running."""
    prompt = cell.locator(".jp-InputPrompt")
    expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=timeout_ms)
    page.wait_for_function(_NOTHING_RUNNING, timeout=timeout_ms)


def _output_text(cell) -> str:
    """The cell's outputs as text (textContent: offscreen cells are not rendered, innerText is empty)."""
    cell.scroll_into_view_if_needed()
    return cell.locator(".jp-OutputArea").text_content()


_START = [time.monotonic()]


def _step(what: str) -> None:
    """Progress with elapsed seconds (pytest shows it with the failure or with -s)."""
    print(f"[{time.monotonic() - _START[0]:6.1f} s] {what}")


# --- the test ------------------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_student_works_through_a_chapter_in_jupyterlab(tmp_path):
    """Wrong answer -> Chinese feedback, right answer -> passes, Validate -> success, in Chromium."""
    if not CHROMIUM.exists():
        require_server(f"{CHROMIUM} missing: `make install` installs Debian's chromium")
    release = REPO / "autograder" / "release" / CHAPTER / f"{CHAPTER}.ipynb"
    instructor = REPO / "notebooks" / f"{CHAPTER}.ipynb"
    student_cells, instructor_cells = _cells_by_grade_id(release), _cells_by_grade_id(instructor)
    exercises = (EXERCISE, *OTHER_EXERCISES)
    assert all("raise NotImplementedError()" in student_cells[g] for g in exercises)
    # An answer cell's first line is the hint comment, which names the exercise's grade_id: the
    # test finds the cell by it, and every answer typed keeps it, as a student leaves it there.
    hint_lines = {g: student_cells[g].splitlines()[0] for g in exercises}
    assert all(
        line.startswith("#") and f'course_utils.hint("{g}")' in line
        for g, line in hint_lines.items()
    ), hint_lines
    solutions = {g: _solution(instructor_cells[g]) for g in exercises}
    assert all(solutions[g].splitlines()[0] == hint_lines[g] for g in exercises)
    wrong = f"{hint_lines[EXERCISE]}\n{WRONG_SOFTMAX}"
    _START[0] = time.monotonic()
    # Importing TensorFlow for the expected messages takes seconds: do it while the lab starts.
    expected = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    messages_future = expected.submit(_expected_messages, wrong, solutions[EXERCISE])
    expected.shutdown(wait=False)

    # The student's workspace, as `make lab` makes it (the chapter is copied there, unchanged,
    # with the other chapters); the lab serves it at its root.
    workdir = tmp_path / "workspace"
    notebook = workdir / release.name
    log_path = tmp_path / "jupyterlab.log"
    page = None
    with (
        course_lab(log_path, tmp_path / "jupyterlab", workdir) as (base, token),
        playwright_api.sync_playwright() as pw,
    ):
        _step("JupyterLab answers")
        assert notebook.read_bytes() == release.read_bytes()
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(MINUTE_MS)
            _student_session(
                page,
                f"{base}/lab/tree/{notebook.name}?token={token}",
                len(json.loads(release.read_text(encoding="utf-8"))["cells"]),
                student_cells,
                hint_lines,
                wrong,
                solutions,
                messages_future,
            )
            saved = _cells_by_grade_id(notebook)
            assert all(saved[g] == solutions[g] for g in exercises), (
                "the notebook on disk lacks the typed answers (Validate saves it first)"
            )
        except BaseException:
            _save_artifacts(page, tmp_path, notebook, log_path)
            raise
        finally:
            browser.close()


def _student_session(
    page, url: str, n_cells: int, student_cells, hint_lines, wrong, solutions, messages_future
):
    page.goto(url)
    # The notebook is open, every cell is rendered (JupyterLab adds them in batches while the
    # browser is idle, slowly on a loaded machine) and its kernel is started and idle.
    expect(page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")).to_have_count(
        n_cells, timeout=3 * MINUTE_MS
    )
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
        1, timeout=2 * MINUTE_MS
    )
    _step("notebook open, kernel idle")
    # nbgrader's JupyterLab extension is loaded: its Validate button sits in the notebook toolbar.
    validate = page.locator(".jp-NotebookPanel-toolbar .validate-button")
    expect(validate).to_be_visible(timeout=MINUTE_MS)
    expect(validate).to_have_text("Validate", timeout=MINUTE_MS)

    # Answer cells by their hint line (it names the grade_id), check cells by their check call.
    exercise = _code_cell(page, hint_lines[EXERCISE])
    check = _code_cell(page, student_cells[f"{EXERCISE}_test"].splitlines()[-1])

    # A wrong answer in exercise 0.1, right answers in the others; Run All stops at the failing check.
    _type_into(page, exercise, wrong)
    for g in OTHER_EXERCISES:
        _type_into(page, _code_cell(page, hint_lines[g]), solutions[g])
    _run_menu(page, "Run All Cells")
    _step("answers typed")
    _wait_until_ran(page, check, timeout_ms=4 * MINUTE_MS)
    output = _output_text(check)
    assert "CheckFailed" in output, output
    feedback, success = messages_future.result()
    assert re.search(r"[\u4e00-\u9fff]", feedback), feedback  # the check speaks Chinese
    assert feedback in output, f"expected {feedback!r} under the check, got:\n{output}"

    # Run All stopped there: the next exercise's check never ran.
    later_check = _code_cell(page, student_cells[f"{OTHER_EXERCISES[0]}_test"].splitlines()[-1])
    expect(later_check.locator(".jp-InputPrompt")).not_to_have_text(re.compile(r"\d"))
    _step("wrong answer: Chinese feedback shown")

    # The right answer: run the exercise cell, then select its check and run it; it passes.
    before = check.locator(".jp-InputPrompt").text_content()
    _type_into(page, exercise, solutions[EXERCISE])
    page.keyboard.press("Shift+Enter")
    check.locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")
    expect(check.locator(".jp-InputPrompt")).not_to_have_text(before, timeout=2 * MINUTE_MS)
    _wait_until_ran(page, check, timeout_ms=2 * MINUTE_MS)
    output = _output_text(check)
    assert "Traceback" not in output and "CheckFailed" not in output, output
    # The check prints its one Chinese success line and returns None: no "Out:" value.
    assert success.startswith("✅") and re.search(r"[\u4e00-\u9fff]", success), success
    stdout = check.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']")
    expect(stdout).to_have_text(success, timeout=MINUTE_MS)
    expect(check.locator(".jp-OutputArea-executeResult")).to_have_count(0)
    _step("right answer: check passes")

    # nbgrader's Validate saves the notebook and runs it on the server: success.
    validate.click()
    dialog = page.locator(".jp-Dialog").filter(has_text="Validation Results")
    expect(dialog).to_be_visible(timeout=4 * MINUTE_MS)
    message = dialog.locator("#validation-message")
    expect(message).to_have_class(re.compile(r"\bvalidation-success\b"), timeout=MINUTE_MS)
    expect(message).to_have_text("Success! Your notebook passes all the tests.")
    dialog.get_by_role("button", name="Ok").click()
    expect(dialog).to_have_count(0, timeout=MINUTE_MS)
    _step("validated")


def _save_artifacts(page, tmp_path: Path, notebook: Path, log_path: Path) -> None:
    """Screenshot, HTML, saved notebook and server log into tmp_path; copies in test-artifacts/.

    The notebook is not copied to ``test-artifacts/``: ruff lints every ``.ipynb`` in the tree,
    and a student copy there would fail ``test_lint`` after a browser failure.
    """
    saved = []
    if page is not None:
        try:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True, timeout=30_000)
            saved.append(tmp_path / "failure.png")
            (tmp_path / "failure.html").write_text(page.content(), encoding="utf-8")
            saved.append(tmp_path / "failure.html")
        except Exception as exc:  # the page may be gone; the rest still helps
            print(f"no screenshot: {exc}")
    if log_path.exists():
        saved.append(log_path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for path in saved:
        shutil.copy(path, ARTIFACTS / path.name)
        print(f"browser test artifact: {path} (copy in {ARTIFACTS / path.name})")
    if notebook.exists():
        shutil.copy(notebook, tmp_path / notebook.name)
        print(f"browser test artifact: {tmp_path / notebook.name} (the notebook as last saved)")
