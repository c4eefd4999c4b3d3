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

from nbexec import REPO, chapter_notebooks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_serves_the_course():
    """Does `make lab` say where to start, print a working URL, and serve the course?

    The token is JupyterLab's own (not given), so the only way in is the URL `make lab` prints.
    """
    port = _free_port()
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0"
    proc = subprocess.Popen(
        ["make", "lab", f"LAB_ARGS={args}"],
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
    first = chapter_notebooks()[0].relative_to(REPO).as_posix()
    url_re = re.compile(rf"http://127\.0\.0\.1:{port}/lab/tree/\S+\?token=[0-9a-f]+")
    try:
        deadline, url = time.time() + 180, None
        while time.time() < deadline and url is None:
            if proc.poll() is not None:
                time.sleep(0.5)
                raise AssertionError(f"make lab exited early:\n{''.join(lines)}")
            url = next((m.group() for ln in list(lines) if (m := url_re.search(ln))), None)
            time.sleep(0.5)
        output = "".join(lines)
        assert url is not None, f"make lab printed no URL to open:\n{output[-3000:]}"
        # Before JupyterLab's own log: where to start, in Chinese and English.
        assert f"从这一章开始 (start with): {first}" in output
        assert "打开它打印的网址 (open the URL it prints" in output
        # The printed URL opens the first chapter, and its token lets one in.
        assert url.split("?")[0].endswith(f"/lab/tree/{first}"), url
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
        token = url.rsplit("token=", 1)[1]
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/contents/notebooks?content=1",
            headers={"Authorization": f"token {token}"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            listing = json.load(resp)
        names = {item["name"] for item in listing["content"]}
        assert "AUTHORING.md" in names
        assert {p.name for p in chapter_notebooks()} <= names
        # Without the token the API refuses: the printed URL is the way in.
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/notebooks", timeout=10)
            raise AssertionError("the server answered without a token")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


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
