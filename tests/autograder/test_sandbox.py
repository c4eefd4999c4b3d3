"""The sandbox around student kernels: each attack is a cell a student could hand in, graded by
the real ``python -m autograder grade``, and must fail.

One ``grade`` call (``--workers 2``, the tiny fixture chapter) grades the whole hostile class:

* ``a_planter``  plants ``planted_by_a.py`` wherever it can for the next student, and starts
  processes that outlive the kernel (``setsid``, a double fork);
* ``b_snoop``    dumps the environment (the grader has a fake ``SSH_AUTH_SOCK`` and
  ``GITHUB_TOKEN``), reads ``/proc/*/cmdline`` to find the grader's folders, tries to read
  ``notebooks/``, the other submissions, the feedback and CSV folders, to open the course code
  and the virtual environment for writing, and to connect to a listener on the host;
* ``c_hog``      allocates 3 GiB and then more (``--memory 2G``);
* ``d_symlink``  hands in a link to the instructor's notebook (``d_symlink_folder``: its
  student folder is a link to the instructor's folder);
* ``e_huge``     hands in a 6 MB notebook (``--max-size 5M``);
* ``f_filler``   fills its home and ``/tmp`` (``--disk 64M``), then writes into the kernel's
  connection folder;
* ``g_flood``    prints 2 MiB in each of 100 cells;
* ``zz_victim``  an honest student graded after them: full marks, nothing planted reaches it.

Then fast tests without a kernel: the CPU-time and process/thread limits, the refusal when
bubblewrap is missing, ``--no-sandbox``, and workers sized to memory.
"""

from __future__ import annotations

import csv
import html
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_raw_cell

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import cases  # noqa: E402

from autograder.sandbox import GIB, Sandbox, SandboxError, parse_size  # noqa: E402

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the sandbox is bubblewrap, Linux only"
)

ATTACKS = HERE / "attacks" / "sandbox"
FIXTURE = HERE / "fixtures" / "source" / "90_tiny.ipynb"
SECRETS = {"SSH_AUTH_SOCK": "/tmp/fake-agent-7f3a.sock", "GITHUB_TOKEN": "ghp_fakeToken8c2e91"}
SURVIVOR_MARKS = (b"4242", b"4243")


def grade(*args: str, env_extra: dict | None = None, path: str | None = None):
    env = dict(os.environ)
    env["COURSE_SIZE"] = "full"
    env.update(env_extra or {})
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "autograder", "grade", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def feedback_text(path: Path) -> str:
    """What the cells printed in a feedback report (their outputs, not their source)."""
    text = path.read_text(encoding="utf-8")
    outputs = re.findall(
        r'class="output_subarea[^"]*output_text[^"]*">\s*<pre>(.*?)</pre>', text, re.S
    )
    return html.unescape(re.sub(r"<[^>]+>", "", "\n".join(outputs)))


def survivors() -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if (b"sleep\x004242" in cmd or b"sleep 4243" in cmd) and b"pytest" not in cmd:
            found.append(int(proc.name))
    return found


class Listener:
    """A TCP server on the grader's machine that counts who connects."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    if not Sandbox().enabled or not _bwrap_works():
        pytest.skip("bubblewrap cannot start here (see test_refuses_without_bubblewrap)")
    root = tmp_path_factory.mktemp("hostile")
    subs, out, feedback = root / "submitted", root / "out" / "grades.csv", root / "feedback"
    source = nbformat.read(str(FIXTURE), as_version=4)
    package = Path(importlib.util.find_spec("course_utils").origin)  # without importing TF
    checks = package.parent / "checks"
    site = Path(nbformat.__file__).parent.parent
    targets = {
        "read": [
            str(REPO / "notebooks"),
            str(FIXTURE),
            str(subs),
            str(subs / "zz_victim" / "90_tiny.ipynb"),
            str(feedback),
            str(out.parent),
        ],
        "write": [
            *(str(p) for p in sorted(checks.glob("*.py"))[:3]),
            str(package),
            str(site / "zz_sandbox_probe_attack.py"),
            str(out),
            str(REPO / "autograder" / "zz_sandbox_probe_attack.py"),
        ],
    }
    listener = Listener()

    def attack(name, **values):
        code = (ATTACKS / f"{name}.py").read_text(encoding="utf-8")
        header = "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
        return header + code

    cases.write(cases.inject(source, attack("planter")), subs / "a_planter" / "90_tiny.ipynb")
    cases.write(
        cases.inject(source, attack("snoop", TARGETS=targets, PORT=listener.port)),
        subs / "b_snoop" / "90_tiny.ipynb",
    )
    cases.write(cases.inject(source, attack("hog")), subs / "c_hog" / "90_tiny.ipynb")
    (subs / "d_symlink").mkdir()
    (subs / "d_symlink" / "90_tiny.ipynb").symlink_to(FIXTURE)
    (subs / "d_symlink_folder").symlink_to(FIXTURE.parent, target_is_directory=True)
    huge = cases.inject(source, "")
    huge.cells.append(new_raw_cell("x" * (6 * 1024 * 1024)))
    cases.write(huge, subs / "e_huge" / "90_tiny.ipynb")
    cases.write(cases.inject(source, attack("filler")), subs / "f_filler" / "90_tiny.ipynb")
    flood = cases.inject(source, "")
    flood.cells += [new_code_cell(f"print({i} * 'z' * (2 * 1024 * 1024))") for i in (1,) * 100]
    cases.write(flood, subs / "g_flood" / "90_tiny.ipynb")
    cases.write(cases.inject(source, attack("victim")), subs / "zz_victim" / "90_tiny.ipynb")

    protected = [p for p in targets["write"] if Path(p).exists()]
    started = time.monotonic()
    try:
        proc = grade(
            str(subs),
            "--out",
            str(out),
            "--feedback",
            str(feedback),
            "--source",
            str(FIXTURE.parent),
            "--workers",
            "2",
            "--memory",
            "2G",
            "--max-size",
            "5M",
            "--disk",
            "64M",
            "--cell-timeout",
            "60",
            "--timeout",
            "240",
            "--no-progress",
            env_extra=SECRETS,
        )
        wall = time.monotonic() - started
        alive = survivors()
    finally:
        listener.close()
        for pid in survivors():  # never leave the attack's processes behind, even on failure
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        created = [p for p in targets["write"] if "zz_sandbox_probe" in p and Path(p).exists()]
        homes = [tempfile.gettempdir(), str(Path.home()), str(REPO)]
        planted = [Path(d or ".") / "planted_by_a.py" for d in sys.path + homes]
        created += [str(p) for p in planted if p.exists()]
        for p in created:  # only if an attack worked: never leave its files behind
            Path(p).unlink()
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out, newline="", encoding="utf-8") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    return {
        "rows": rows,
        "feedback": feedback,
        "stdout": proc.stdout,
        "alive": alive,
        "connections": listener.connections,
        "protected": protected,
        "created": created,
        "wall": wall,
    }


def _bwrap_works() -> bool:
    try:
        Sandbox().probe()
    except SandboxError:
        return False
    return True


def fb(hostile_class, student: str) -> str:
    return feedback_text(hostile_class["feedback"] / student / "90_tiny.html")


def test_every_row_says_sandboxed(hostile_class):
    assert {r["sandbox"] for r in hostile_class["rows"].values()} == {"bwrap"}
    assert "WITHOUT the sandbox" not in hostile_class["stdout"]


def test_no_secret_no_hidden_file_no_other_student_is_reachable(hostile_class):
    text = fb(hostile_class, "b_snoop")
    assert "ENV {" in text and "denied" in text, text[-3000:]  # the attack did run
    assert "LEAK" not in text, [ln for ln in text.splitlines() if "LEAK" in ln]
    for value in SECRETS.values():
        assert value not in text
    assert '"COURSE_SIZE": "small"' in text  # the allow-list still gives the kernel its settings
    assert f"PPID 1 {Sandbox().executable()}" in text  # its parent: the sandbox's init
    assert "zz_victim" not in text


def test_course_files_and_environment_stay_read_only(hostile_class):
    text = fb(hostile_class, "b_snoop")
    for path in hostile_class["protected"]:  # the course code and the environment, as they exist
        assert f"denied write {path} Read-only file system" in text, path
    assert hostile_class["created"] == []


def test_no_network(hostile_class):
    text = fb(hostile_class, "b_snoop")
    assert "no network 127.0.0.1" in text
    assert hostile_class["connections"] == 0


def test_processes_die_with_the_kernel(hostile_class):
    assert "survivors started" in fb(hostile_class, "a_planter")
    assert hostile_class["alive"] == [], "a student's setsid/double-forked process outlived grading"


def test_planted_module_never_reaches_the_next_student(hostile_class):
    assert "planted in" in fb(hostile_class, "a_planter")
    text = fb(hostile_class, "zz_victim")
    assert "no planted module" in text and "LEAK" not in text
    victim = hostile_class["rows"]["zz_victim"]
    assert (victim["status"], victim["score"]) == ("ok", victim["max_score"])


def test_memory_hog_gets_memory_limit_and_the_batch_goes_on(hostile_class):
    row = hostile_class["rows"]["c_hog"]
    assert row["status"] == "memory_limit", row
    assert "memory" in row["message"] and "2 GiB" in row["message"], row
    assert hostile_class["rows"]["zz_victim"]["status"] == "ok"


def test_symlinked_submission_is_not_graded(hostile_class):
    for student in ("d_symlink", "d_symlink_folder"):  # a linked file, a linked student folder
        row = hostile_class["rows"][student]
        assert (row["status"], row["score"]) == ("symlink", "0"), row
        assert "symbolic link" in row["message"]


def test_oversized_submission_is_not_opened(hostile_class):
    row = hostile_class["rows"]["e_huge"]
    assert (row["status"], row["score"]) == ("too_large", "0"), row
    assert "5 MiB" in row["message"] and "--max-size" in row["message"]


# --- fast tests: the limits, the refusal, --no-sandbox ---------------------------------------
def run_sandboxed(code: str, **settings) -> subprocess.CompletedProcess:
    sandbox = Sandbox(**settings)
    with tempfile.TemporaryDirectory() as tmp:
        job = Path(tmp)
        (job / "conn").mkdir()
        from autograder.sandbox import JobCgroups

        groups = JobCgroups(sandbox.max_processes, sandbox.memory)
        try:
            return subprocess.run(
                sandbox.command(sandbox.wrap([sys.executable, "-c", code]), job, job / "conn"),
                env=sandbox.environment({}, os.environ),
                preexec_fn=groups.enter,
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            groups.remove()


@pytest.fixture(scope="module")
def bwrap():
    if not _bwrap_works():
        pytest.skip("bubblewrap cannot start here")


def test_cpu_time_limit_stops_a_spinning_process(bwrap):
    started = time.monotonic()
    proc = run_sandboxed("while True: pass", cpu_seconds=1)
    assert proc.returncode == 128 + 24, (proc.returncode, proc.stderr)  # SIGXCPU
    assert time.monotonic() - started < 30


def test_thread_and_process_caps(bwrap):
    code = (
        "import os, threading, time\n"
        "n = 0\n"
        "try:\n"
        "    for _ in range(2000):\n"
        "        threading.Thread(target=time.sleep, args=(3,), daemon=True).start(); n += 1\n"
        "except RuntimeError as e:\n"
        "    print('threads', n)\n"
        "try:\n"
        "    for i in range(2000):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(3); os._exit(0)\n"
        "except OSError as e:\n"
        "    print('forks', i)\n"
    )
    proc = run_sandboxed(code, max_processes=64)
    out = dict(line.split() for line in proc.stdout.split("\n") if line.strip())
    assert int(out["threads"]) < 64 and int(out["forks"]) < 64, proc.stdout + proc.stderr


def test_memory_limit_is_an_allocation_failure(bwrap):
    proc = run_sandboxed(
        "try:\n    bytearray(2 * 1024**3)\nexcept MemoryError:\n    print('MemoryError')",
        memory=GIB,
    )
    assert proc.stdout.strip() == "MemoryError", proc.stderr


def test_refuses_without_bubblewrap_and_no_sandbox_says_so(tmp_path):
    subs = tmp_path / "subs" / "alice"
    subs.mkdir(parents=True)
    (subs / "90_tiny.ipynb").write_text("not json", encoding="utf-8")
    args = [str(tmp_path / "subs"), "--out", str(tmp_path / "g.csv"), "--source"]
    args += [str(FIXTURE.parent), "--no-progress"]
    no_bwrap = str(tmp_path / "empty-bin")  # a PATH where bubblewrap cannot be found
    proc = grade(*args, path=no_bwrap)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "bubblewrap" in proc.stderr and "apt-get install bubblewrap" in proc.stderr
    assert "--no-sandbox" in proc.stderr
    assert not (tmp_path / "g.csv").exists()

    proc = grade(*args, "--no-sandbox", path=no_bwrap)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "WARNING: graded WITHOUT the sandbox" in proc.stdout
    with open(tmp_path / "g.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["student_id"], r["status"], r["sandbox"]) for r in rows] == [
        ("alice", "error", "off")
    ]


def test_workers_sized_to_memory(monkeypatch):
    from traitlets.config import Config

    from autograder import sandbox
    from autograder.grade import GradeRunner

    monkeypatch.setattr(sandbox, "available_memory", lambda: 9 * GIB)
    config = Config()
    config.Sandbox.memory = 4 * GIB
    assert GradeRunner(config=config).n_workers(50) == min(2, os.cpu_count() or 1)
    config.GradeRunner.workers = 7  # an explicit --workers is obeyed
    assert GradeRunner(config=config).n_workers(50) == 7
    config = Config()
    config.Sandbox.memory = 64 * GIB  # less than one kernel fits: still one worker
    assert GradeRunner(config=config).n_workers(50) == 1


def test_parse_size():
    assert parse_size("4G") == 4 * GIB
    assert parse_size("1.5GiB") == int(1.5 * GIB)
    assert parse_size("512M") == 512 * 1024**2
    assert parse_size("2000") == 2000
    with pytest.raises(ValueError):
        parse_size("lots")


def test_a_full_disk_is_a_clear_status_and_the_batch_goes_on(hostile_class):
    """Issue 16: the home and /tmp are capped (`--disk`); filling them is the student's problem
    alone (status disk_full, the cell named), and nothing can be written beside the kernel's
    sockets."""
    text = fb(hostile_class, "f_filler")
    assert text.count("No space left on device") >= 2, text[-2000:]
    for folder in ("/home/student", "/tmp"):
        megabytes = int(re.search(rf"FULL {folder} (\d+) MiB", text).group(1))
        assert 32 <= megabytes <= 64, text[-2000:]
    assert text.count("CONN DENIED Permission denied") == 2, text[-2000:]
    assert not re.search(r"^WROTE ", text, flags=re.M), text[-2000:]
    assert "CAPS 0000000000000000" in text, text[-2000:]  # no capability, even for a root grader
    row = hostile_class["rows"]["f_filler"]
    assert row["status"] == "disk_full" and re.search(r"cell \d+ filled", row["message"]), row
    assert "64 MiB" in row["message"], row
    assert hostile_class["rows"]["zz_victim"]["status"] == "ok"


def test_output_is_capped_per_notebook(hostile_class):
    """100 cells of 2 MiB each: the report stays small (it was 210 MB before issue 16)."""
    size = (hostile_class["feedback"] / "g_flood" / "90_tiny.html").stat().st_size
    assert size < 24 * 1024 * 1024, size
    assert (
        hostile_class["rows"]["g_flood"]["score"] == hostile_class["rows"]["g_flood"]["max_score"]
    )


def test_grader_package_is_masked_where_a_mount_would_expose_it(monkeypatch, tmp_path):
    """A non-editable install puts the grader next to course_utils in site-packages: whatever
    read-only mount contains the grader's package, the sandbox hides it under an empty tmpfs."""
    from autograder import sandbox as sb

    package = Path(sb.__file__).resolve().parent
    monkeypatch.setattr(Sandbox, "read_only_paths", lambda self: [str(package.parent)])
    monkeypatch.setattr(Sandbox, "executable", lambda self: "/usr/bin/bwrap")
    cmd = Sandbox().command(["true"], tmp_path, tmp_path / "conn")
    masked = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--tmpfs"]
    assert str(package) in masked, cmd
    assert cmd.index("--tmpfs", cmd.index(str(package.parent))) > cmd.index(str(package.parent))
    monkeypatch.setattr(Sandbox, "read_only_paths", lambda self: ["/usr/lib/python3/dist-packages"])
    cmd = Sandbox().command(["true"], tmp_path, tmp_path / "conn")
    assert str(package) not in cmd  # not mounted at all: nothing to mask
