"""The Slurm job-array recipe of ``autograder/README.md``, run for real on a one-node cluster.

The module fixture starts a private Slurm cluster and takes it down afterwards, without touching
the machine's own configuration: ``munged`` with its own key, socket, pid, log and seed files,
``slurmctld`` and ``slurmd`` in the foreground on free local ports, with a ``slurm.conf`` in a
temporary folder (``SLURM_CONF`` points every Slurm command at it). A throwaway PostgreSQL server
(``conftest.postgres``) is the gradebook.

The recipe is read from the README's code blocks, so the documented recipe and the tested one
cannot drift apart. Only what a test must change is substituted: the submissions folder, 2
shards instead of 4, 1 CPU and 2G per task, a shorter time limit, the Python that runs the tests,
and the chapter: the tiny fixture chapter (``--source``) with a class of three students (full,
blank, partial) plus a roster student who handed in nothing. ``--timings`` points at a file in
the temporary folder, so nothing is written into the repository. The array and its merge job
run from a temporary folder that stands for the repository on the shared file system.

Outside CI the tests skip, with the reason, where Slurm, munge or PostgreSQL cannot start (not
root, Debian's ``slurm-wlm``/``munge``/``postgresql`` missing); under ``CI=true`` they fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cases
import nbformat
import pytest
from conftest import FIXTURE_SOURCE, REPO, read_csv
from nbgrader.api import Gradebook
from servers import free_port, require_server

from autograder.merge import shard_of

README = REPO / "autograder" / "README.md"
SECTION = "### Recipe: Slurm job array"
SUBMITTED = ["blank", "full", "partial"]
ROSTER = [*SUBMITTED, "absent"]  # "absent" handed in nothing: a `missing` row
SHARDS = 2
# Bounds for a heavily loaded machine; a quiet one takes a small fraction of each.
START_TIMEOUT = 180  # daemons up and the node idle
JOBS_TIMEOUT = 1500  # the array and its merge job done

pytestmark = pytest.mark.timeout(2400)


# --- the recipe, as the README writes it ----------------------------------------------------


def recipe() -> tuple[str, str]:
    """``(sbatch_script, submit_commands)``: the two code blocks of the README's Slurm recipe."""
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, f"{README} has no '{SECTION}' section"
    section = re.split(r"\n##+ ", text.split(SECTION, 1)[1], maxsplit=1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)
    assert [lang for lang, _ in blocks] == ["bash", "bash"], blocks
    return blocks[0][1], blocks[1][1]


def substitute(text: str, changes: list[tuple[str, str]]) -> str:
    """Replace each ``old`` (a regular expression) that the recipe must contain by ``new``."""
    for old, new in changes:
        text, n = re.subn(old, lambda _m, new=new: new, text)
        assert n, f"the README's Slurm recipe no longer contains {old!r}:\n{text}"
    return text


# --- a private Slurm cluster ----------------------------------------------------------------


class Cluster:
    """munged, slurmctld and slurmd as child processes, configured in ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.env = dict(os.environ, SLURM_CONF=str(root / "slurm.conf"))

    def slurm(self, *cmd: str, timeout: float = 180, check: bool = True) -> str | None:
        """A Slurm command's output; without ``check``, None where it failed (a busy
        slurmctld may not answer in time: the caller asks again)."""
        try:
            proc = subprocess.run(
                cmd, env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.root
            )
        except subprocess.TimeoutExpired:
            if check:
                raise
            return None
        if check:
            assert proc.returncode == 0, f"{shlex.join(cmd)} failed:\n{proc.stderr}{self.logs()}"
        return proc.stdout if proc.returncode == 0 else None

    def _spawn(self, name: str, *cmd: str) -> None:
        out = open(self.root / f"{name}.out", "wb")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            cmd,
            env=self.env,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of pytest reaches the teardown, not the daemons
        )
        out.close()
        self.procs.append((name, proc))

    def logs(self, tail: int = 3000) -> str:
        parts = []
        for name in ("munged.out", "slurmctld.log", "slurmd.log", "slurmctld.out", "slurmd.out"):
            path = self.root / name
            if path.exists():
                text = path.read_text(errors="replace")[-tail:]
                parts.append(f"\n--- {name} ---\n{text}")
        return "".join(parts)

    def start(self) -> None:
        root, munge = self.root, self.root / "munge"
        munge.mkdir(mode=0o755)  # munged wants its socket's folder searchable by all
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        socket = munge / "munge.socket"
        self._spawn(
            "munged", "munged", "--foreground", f"--key-file={key}", f"--socket={socket}",
            f"--pid-file={munge / 'munged.pid'}", f"--log-file={munge / 'munged.log'}",
            f"--seed-file={munge / 'munged.seed'}",
        )  # fmt: skip
        self._wait(lambda: socket.exists(), "munged to create its socket")
        ctld_port = free_port()
        while (slurmd_port := free_port()) == ctld_port:
            pass
        # The node as slurmd sees it (CPUs, sockets, cores, memory): a node that claims more
        # than the machine has would be drained.
        hardware = subprocess.run(
            ["slurmd", "-C"], capture_output=True, text=True, timeout=60, env=self.env
        ).stdout.splitlines()[0]
        node = " ".join(w for w in hardware.split() if not w.startswith(("NodeName=", "UpTime=")))
        (root / "state").mkdir()
        (root / "spool").mkdir()
        (root / "plugstack.conf").write_text("")  # not /etc/slurm/plugstack.conf
        (root / "slurm.conf").write_text(
            f"""ClusterName=grading
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket={socket}
CredType=cred/munge
StateSaveLocation={root / "state"}
SlurmdSpoolDir={root / "spool"}
SlurmctldPidFile={root / "slurmctld.pid"}
SlurmdPidFile={root / "slurmd.pid"}
SlurmctldLogFile={root / "slurmctld.log"}
SlurmdLogFile={root / "slurmd.log"}
PlugStackConfig={root / "plugstack.conf"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
MessageTimeout=60
MinJobAge=3600
NodeName=localhost NodeAddr=127.0.0.1 {node} State=UNKNOWN
PartitionName=grading Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""",
            encoding="utf-8",
        )
        self._spawn("slurmctld", "slurmctld", "-D")
        self._spawn("slurmd", "slurmd", "-D", "-N", "localhost")

        def node_idle() -> bool:
            out = self.slurm("sinfo", "-h", "-N", "-n", "localhost", "-o", "%t", check=False)
            return (out or "").strip() == "idle"

        self._wait(node_idle, "sinfo to show the node idle")

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            dead = [name for name, proc in self.procs if proc.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"{', '.join(dead)} exited" if dead else f"{START_TIMEOUT} s passed"
                raise RuntimeError(f"waiting for {what}: {why}{self.logs()}")
            time.sleep(1)

    def stop(self) -> None:
        """Cancel what is left of the jobs, then stop slurmd, slurmctld and munged."""
        if any(name == "slurmctld" and p.poll() is None for name, p in self.procs):
            with contextlib.suppress(Exception):
                jobs = (self.slurm("squeue", "-h", "-o", "%A", check=False) or "").split()
                if jobs:
                    self.slurm("scancel", *sorted(set(jobs)), check=False)
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline and self.slurm(
                        "squeue", "-h", "-o", "%A", check=False, timeout=30
                    ) not in ("", None):
                        time.sleep(1)
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster():
    missing = [p for p in ("munged", "slurmctld", "slurmd", "sbatch") if not shutil.which(p)]
    if missing:
        require_server(
            f"Slurm cannot start: {', '.join(missing)} not found (Debian packages slurm-wlm "
            "and munge; `make install` runs scripts/install_system_deps.sh)"
        )
    if os.geteuid() != 0:
        require_server("Slurm cannot start: slurmd must run as root to launch jobs")
    # /tmp itself, not pytest's tmp_path: munged wants every folder above its socket searchable.
    root = Path(tempfile.mkdtemp(prefix="autograder-slurm-", dir="/tmp"))
    root.chmod(0o755)
    cluster = Cluster(root)
    try:
        try:
            cluster.start()
        except (RuntimeError, OSError, IndexError, subprocess.SubprocessError) as exc:
            require_server(f"Slurm cannot start: {exc}")
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- the class, graded by the recipe and by one unsharded run ---------------------------------


def _write_class(subs: Path, release) -> None:
    source = nbformat.read(str(FIXTURE_SOURCE / "90_tiny.ipynb"), as_version=4)
    blank = nbformat.reads(release.render(FIXTURE_SOURCE / "90_tiny.ipynb"), as_version=4)
    cases.write(source, subs / "full" / "90_tiny.ipynb")
    cases.write(blank, subs / "blank" / "90_tiny.ipynb")
    cases.write(cases.partial(source, blank), subs / "partial" / "90_tiny.ipynb")


def _jobs(cluster: Cluster, job_id: str) -> list[dict[str, str]]:
    """``scontrol show job``'s records of a job (one per array task), as ``key -> value``."""
    out = cluster.slurm("scontrol", "show", "job", job_id, "--oneliner")
    return [
        dict(field.split("=", 1) for field in line.split() if "=" in field)
        for line in out.splitlines()
        if line.strip()
    ]


@pytest.fixture(scope="module")
def slurm_run(cluster, postgres, release, tmp_path_factory):
    """The README's recipe submitted to the cluster, waited for; and one unsharded run."""
    if postgres["url"] is None:
        require_server(f"PostgreSQL not available: {postgres['reason']}")
    root = tmp_path_factory.mktemp("slurm-class")
    subs, course, single = root / "submissions", root / "course", root / "single"
    _write_class(subs, release)
    course.mkdir()
    single.mkdir()
    roster = "student_id\n" + "".join(f"{s}\n" for s in ROSTER)
    (course / "students.csv").write_text(roster, encoding="utf-8")
    timings = root / "timings.json"  # not autograder/timings.json
    python = shlex.quote(sys.executable)
    test_only = f"--source {shlex.quote(str(FIXTURE_SOURCE))} --timings {shlex.quote(str(timings))}"

    script, submit = recipe()
    script = substitute(
        script,
        [
            (r"--array=0-3\b", f"--array=0-{SHARDS - 1}"),
            (r"--cpus-per-task=4\b", "--cpus-per-task=1"),
            (r"--mem=20G\b", "--mem=2G"),
            (r"--time=03:00:00\b", "--time=00:25:00"),
            (r"/shared/submissions/01_sequential", shlex.quote(str(subs))),
            (r"\.venv/bin/python", python),
            (r"--no-progress", f"--no-progress {test_only}"),
        ],
    )
    (course / "grade.sbatch").write_text(script, encoding="utf-8")
    submit = substitute(submit, [(r"\.venv/bin/python", python)])
    env = dict(
        cluster.env,
        GRADEBOOK_URL=postgres["url"],
        COURSE_SIZE="full",  # grading forces the small size by itself
        PYTHONPATH=str(REPO),
    )
    env.pop("PYTEST_CURRENT_TEST", None)
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", f'{submit}\necho "array=${{jobid}}"'],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"submitting failed:\n{proc.stdout}{proc.stderr}{cluster.logs()}"
    array_id = re.search(r"array=(\d+)", proc.stdout).group(1)
    merge_id = re.search(r"Submitted batch job (\d+)", proc.stdout).group(1)

    # The unsharded run of the same class, while the cluster works.
    reference = subprocess.Popen(
        [
            sys.executable, "-m", "autograder", "grade", str(subs),
            "--out", str(single / "grades.csv"), "--feedback", str(single / "feedback"),
            "--roster", str(course / "students.csv"), "--db", "none", "--workers", "1",
            "--no-progress", "--source", str(FIXTURE_SOURCE), "--timings", str(timings),
        ],
        cwd=REPO, env=dict(os.environ, COURSE_SIZE="full"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + JOBS_TIMEOUT
        while True:
            queued = cluster.slurm("squeue", "-h", "-o", "%i %T %r", check=False)
            if queued is not None and not queued.strip():
                break
            queued = queued or "(squeue did not answer)"
            stuck = "DependencyNeverSatisfied" in queued
            if stuck or time.monotonic() > deadline:
                logs = "".join(
                    f"\n--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}"
                    for p in sorted(course.glob("**/*.log")) + sorted(course.glob("slurm-*.out"))
                )
                why = "a grading task failed" if stuck else f"not done after {JOBS_TIMEOUT} s"
                pytest.fail(f"Slurm jobs: {why}:\n{queued}{logs}{cluster.logs()}")
            time.sleep(2)
        wall = time.monotonic() - started
        out, err = reference.communicate(timeout=JOBS_TIMEOUT)
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()
    assert reference.returncode == 0, err[-3000:]
    return {
        "course": course,
        "single": single,
        "db": postgres["url"],
        "array": _jobs(cluster, array_id),
        "merge": _jobs(cluster, merge_id),
        "wall": wall,
    }


def test_every_array_task_completed(slurm_run):
    """Did each shard's array task, and the merge job after them, end COMPLETED with exit 0?"""
    tasks = {job.get("ArrayTaskId"): job for job in slurm_run["array"]}
    assert set(tasks) == {str(k) for k in range(SHARDS)}, slurm_run["array"]
    for job in [*tasks.values(), *slurm_run["merge"]]:
        assert (job["JobState"], job["ExitCode"]) == ("COMPLETED", "0:0"), job
    course = slurm_run["course"]
    for k in range(SHARDS):
        rows = read_csv(course / "results" / f"grades-{k}.csv")
        assert {s for s, _ in rows} == {s for s in ROSTER if shard_of(s, SHARDS) == k}
    assert sorted(p.name for p in (course / "logs").iterdir()) == sorted(
        f"grade-{tasks[str(k)]['ArrayJobId']}_{k}.log" for k in range(SHARDS)
    )


def test_merge_equals_one_unsharded_run(slurm_run):
    """Is the recipe's merged CSV, and its per-cell JSON, byte for byte one unsharded run's?"""
    merged, single = slurm_run["course"] / "results", slurm_run["single"]
    assert (merged / "grades.csv").read_bytes() == (single / "grades.csv").read_bytes()
    assert (merged / "grades.json").read_bytes() == (single / "grades.json").read_bytes()
    rows = read_csv(single / "grades.csv")
    assert {s for s, _ in rows} == set(ROSTER)
    assert rows["full", "90_tiny"]["score"] == "3" and rows["blank", "90_tiny"]["score"] == "0"
    assert rows["partial", "90_tiny"]["score"] not in ("0", "3")
    assert rows["absent", "90_tiny"]["status"] == "missing"
    # With GRADEBOOK_URL set the shards filled the gradebook: the merge wrote none of its own.
    assert not (merged / "gradebook.db").exists()


def test_postgres_gradebook_holds_every_score(slurm_run):
    """Does the PostgreSQL gradebook the shards wrote hold each student's score?"""
    rows = read_csv(slurm_run["single"] / "grades.csv")
    with Gradebook(slurm_run["db"], course_id="keras-deep-dive") as gb:
        assert {s.id for s in gb.students} == set(ROSTER)
        stored = {
            sub.student.id: (sub.score, sub.assignment.max_score)
            for sub in gb.find_assignment("90_tiny").submissions
        }
    expected = {
        sid: (float(r["score"]), float(r["max_score"]))
        for (sid, _), r in rows.items()
        if r["status"] != "missing"
    }
    assert stored == expected and set(stored) == set(SUBMITTED)
