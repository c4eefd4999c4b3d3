"""A bubblewrap sandbox around every student kernel (Linux).

Each kernel runs as ``bwrap ... -- python -c LIMITS python -m ipykernel_launcher -f CONN`` with

* **namespaces**: its own PID namespace (every process the student starts, ``setsid`` ones
  included, dies with the kernel: bwrap's init is PID 1 and the sandbox is killed with its
  parent), no network (an empty network namespace; the kernel's sockets use the ``ipc``
  transport, Unix sockets in a per-job folder), own IPC and UTS namespaces, a new session;
* **files**: an empty root with only the system (``/usr`` and the ``/etc`` files programs need),
  the Python environment (``sys.prefix`` and ``sys.base_prefix``), ``course_utils`` and the
  course data mounted **read-only** (the grader's own package masked where it lies inside
  them); a private home (the working directory) and ``/tmp`` per job, each a tmpfs of
  ``disk`` bytes; the connection folder, read-only once the kernel's sockets exist; nothing
  of ``notebooks/``, the submissions, the outputs, the expected values or other jobs;
* **environment**: cleared; only ``PATH``, ``HOME``, ``LANG``, ``MPLCONFIGDIR``, the kernel
  variables of ``ExecuteGraded.kernel_env`` and the names in ``Sandbox.env_allow`` pass;
* **limits** (set inside the sandbox, so they count only its processes): ``memory`` as
  ``RLIMIT_DATA`` (an allocation over it raises ``MemoryError``), CPU seconds, processes plus
  threads (``RLIMIT_NPROC``; root is exempt from it, so a ``pids`` cgroup is used too where the
  machine lets us create one), file size, open files, no core dumps. A ``memory`` cgroup, where
  one can be created, is a backstop for memory spread over several processes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Bool, Float, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

from autograder.paths import REPO

log = logging.getLogger("autograder")

GIB = 1024**3
MIB = 1024**2

#: Where the job's private home (its working directory) appears inside the sandbox.
HOME = "/home/student"

#: ``/etc`` entries a Python/TensorFlow kernel needs (no shadow, ssh, sudoers, ...).
ETC = [
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "ssl",
    "ca-certificates",
    "fonts",
    "localtime",
    "timezone",
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "mime.types",
    "matplotlibrc",
]

#: Python code run inside the sandbox before the kernel: set the limits, then exec the kernel.
LIMITS = (
    "import os,resource as r,sys,json\n"
    "for k,v in json.loads(sys.argv[1]).items():\n"
    " try:r.setrlimit(getattr(r,k),tuple(v) if isinstance(v,list) else (v,v))\n"
    " except (ValueError,OSError) as e:print('sandbox: cannot set',k,e,file=sys.stderr)\n"
    # The kernel's parent is the sandbox's PID 1: ipykernel must not take that for an orphan.
    "os.environ['JPY_PARENT_PID']='1'\n"
    "os.execv(sys.argv[2],sys.argv[2:])"
)

#: What a kernel that died of memory leaves in its log (Python, C++, TensorFlow).
OUT_OF_MEMORY = re.compile(r"MemoryError|bad_alloc|Cannot allocate memory|OOM when allocating")


def parse_size(text) -> int:
    """``"4G"``, ``"512M"``, ``"1.5GiB"``, ``"2000000"`` -> bytes."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(I?B)?\s*", str(text).upper())
    if not m:
        raise ValueError(f"not a size: {text!r} (examples: 4G, 512M, 1.5G)")
    scale = {"": 1, "K": 1024, "M": MIB, "G": GIB, "T": 1024 * GIB}[m.group(2)]
    return int(float(m.group(1)) * scale)


def format_size(n: float) -> str:
    """``4294967296`` -> ``"4 GiB"``."""
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def available_memory() -> int:
    """Memory this machine (or the memory cgroup we run in) can still give, in bytes."""
    avail = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except OSError:
        pass
    for base in _own_cgroups("memory"):
        for limit_file, usage_file in (
            ("memory.max", "memory.current"),
            ("memory.limit_in_bytes", "memory.usage_in_bytes"),
        ):
            try:
                limit = (base / limit_file).read_text().strip()
                usage = int((base / usage_file).read_text())
            except (OSError, ValueError):
                continue
            if limit.isdigit() and int(limit) < 1 << 60:
                room = int(limit) - usage
                avail = min(avail, room) if avail else room
    return avail


def _own_cgroups(controller: str) -> list[Path]:
    """Folders of the cgroups (v1 for ``controller``, else v2) this process belongs to."""
    found = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        _, names, path = line.split(":", 2)
        rel = path.lstrip("/")
        if controller in names.split(","):
            found.append(Path("/sys/fs/cgroup") / controller / rel)
        elif names == "":
            for root in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
                if (root / "cgroup.controllers").exists():
                    found.append(root / rel)
                    break
    return found


class JobCgroups:
    """Per-job ``pids`` and ``memory`` cgroups, where this machine lets us create them."""

    def __init__(self, pids: int, memory: int):
        self.dirs: list[Path] = []
        name = f"autograder-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        for controller, limits in (
            ("pids", {"pids.max": str(pids)}),
            ("memory", {"memory.limit_in_bytes": str(memory), "memory.max": str(memory)}),
        ):
            for base in _own_cgroups(controller):
                d = base / name
                try:
                    d.mkdir()
                except OSError:
                    continue
                wrote = False
                for fname, value in limits.items():
                    try:
                        (d / fname).write_text(value)
                        wrote = True
                    except OSError:
                        pass
                if wrote:
                    self.dirs.append(d)
                    break
                _rmdir(d)

    def enter(self) -> None:
        """Move the calling process into every job cgroup (runs in the child before exec)."""
        for d in self.dirs:
            try:
                with open(d / "cgroup.procs", "w") as fh:
                    fh.write("0")
            except OSError:
                pass

    def oom_killed(self) -> bool:
        for d in self.dirs:
            for fname in ("memory.events", "memory.oom_control"):
                try:
                    text = (d / fname).read_text()
                except OSError:
                    continue
                m = re.search(r"oom_kill (\d+)", text)
                if m and int(m.group(1)) > 0:
                    return True
        return False

    def remove(self) -> None:
        for d in self.dirs:
            _rmdir(d)
        self.dirs = []


def _rmdir(d: Path) -> None:
    for _ in range(100):
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            try:  # processes still in it: cgroup v2 can kill them all at once
                (d / "cgroup.kill").write_text("1")
            except OSError:
                pass
            time.sleep(0.05)


class SandboxError(RuntimeError):
    """The sandbox cannot start on this machine; the message names the fix."""


class Sandbox(LoggingConfigurable):
    """Settings of the bubblewrap sandbox every student kernel runs in."""

    enabled = Bool(
        True,
        help="Run every kernel in a bubblewrap sandbox (--no-sandbox turns it off; "
        "then student code runs with the grader's rights).",
    ).tag(config=True)

    bwrap = Unicode("bwrap", help="The bubblewrap executable (looked up on PATH).").tag(config=True)

    memory = Integer(
        4 * GIB,
        help="Bytes of memory one kernel may allocate (RLIMIT_DATA; --memory, e.g. 4G). "
        "Automatic --workers counts this much per worker.",
    ).tag(config=True)

    cpu_seconds = Float(
        0.0,
        help="CPU seconds one kernel process may use (RLIMIT_CPU); 0 means "
        "ExecuteGraded.notebook_timeout x the number of CPU cores.",
    ).tag(config=True)

    max_processes = Integer(
        1024,
        help="Processes plus threads the sandbox may run at once (RLIMIT_NPROC, and a pids "
        "cgroup where one can be created: root is exempt from RLIMIT_NPROC).",
    ).tag(config=True)

    max_file_size = Integer(
        1 * GIB, help="Largest file a kernel may write, in bytes (RLIMIT_FSIZE)."
    ).tag(config=True)

    max_open_files = Integer(1024, help="Open files per kernel process (RLIMIT_NOFILE).").tag(
        config=True
    )

    disk = Integer(
        1 * GIB,
        help="Bytes the kernel may write into its private home and into /tmp (each a tmpfs of "
        "this size; --disk, e.g. 512M). Past it, writes fail with 'No space left on device' "
        "and the row's status is disk_full.",
    ).tag(config=True)

    env_allow = List(
        Unicode(),
        ["LANG", "LC_ALL", "LC_CTYPE", "TZ", "OMP_NUM_THREADS", "KERAS_BACKEND", "COURSE_DATA_DIR"],
        help="Environment variables passed into the sandbox from the grader's environment "
        "(everything else is cleared; ExecuteGraded.kernel_env is always set).",
    ).tag(config=True)

    read_only = List(
        Unicode(),
        [],
        help="Extra host folders mounted read-only at the same path (course data elsewhere).",
    ).tag(config=True)

    # ---------------------------------------------------------------------------------------
    def executable(self) -> str:
        found = shutil.which(self.bwrap)
        if not found:
            raise SandboxError(
                f"cannot sandbox student kernels: bubblewrap ({self.bwrap!r}) is not installed. "
                "Fix: `sudo apt-get install bubblewrap` (or `make install`, which runs "
                "scripts/install_system_deps.sh), or grade without the sandbox with "
                "--no-sandbox (student code then runs with your rights: only for trusted "
                "submissions)."
            )
        return found

    def read_only_paths(self) -> list[str]:
        """Host folders mounted read-only at the same path: Python, course_utils, data."""
        paths = [sys.prefix, sys.base_prefix, str(REPO / "course_utils"), str(REPO / "data")]
        try:  # where the kernel will import course_utils from (an editable install points here)
            import importlib.util

            spec = importlib.util.find_spec("course_utils")
            paths += list(spec.submodule_search_locations or []) if spec else []
        except (ImportError, ValueError):
            pass
        paths += [p for p in os.environ.get("COURSE_DATA_DIR", "").split(os.pathsep) if p]
        paths += list(self.read_only)
        out: list[str] = []
        # Each at the path the kernel uses and, if a link leads elsewhere, at its real path too.
        both = {os.path.abspath(p) for p in paths} | {os.path.realpath(p) for p in paths}
        for p in sorted(both):
            if not os.path.exists(p) or p == "/usr" or p.startswith("/usr/"):
                continue
            if any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
                continue
            out.append(p)
        return out

    def command(self, inner: list[str], job: Path, conn: Path) -> list[str]:
        """The bwrap command line running ``inner`` for the job folder ``job``."""
        cmd = [
            self.executable(),
            "--unshare-all",
            # Run as root, bwrap would keep every capability (a student could remount the
            # read-only course files, or ignore file permissions): drop them all.
            "--cap-drop",
            "ALL",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            path = Path("/") / name
            if path.is_symlink():
                cmd += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                cmd += ["--ro-bind", str(path), str(path)]
        for name in ETC:
            path = Path("/etc") / name
            if path.exists():
                cmd += ["--ro-bind", str(path), str(path)]
        # /tmp first: course paths under /tmp (a checkout there) are mounted on top of it. The
        # home and /tmp are private tmpfs of a fixed size: a full disk is the student's alone.
        size = str(int(self.disk))
        cmd += ["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/tmp"]
        cmd += ["--size", size, "--tmpfs", HOME]
        # What the grader prepared for the home (matplotlib's font cache), read-only inside it.
        seed = job / "home"
        if seed.is_dir():
            for entry in sorted(seed.rglob("*")):
                if entry.is_file():
                    cmd += ["--ro-bind", str(entry), f"{HOME}/{entry.relative_to(seed)}"]
        # Keras' dataset and weight caches of the grader's user, read-only at the usual place.
        keras_home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
        for sub in ("datasets", "models"):
            if (keras_home / sub).is_dir():
                cmd += ["--ro-bind", str(keras_home / sub), f"{HOME}/.keras/{sub}"]
        for path in self.read_only_paths():
            cmd += ["--ro-bind", path, path]
        # A non-editable install puts the grader (its code, its references) next to
        # course_utils in site-packages: hide it from the kernel.
        for path in grader_paths():
            if any(
                path == p or path.startswith(p.rstrip("/") + "/") for p in self.read_only_paths()
            ):
                cmd += ["--tmpfs", path]
        cmd += ["--bind", str(conn), str(conn), "--chdir", HOME, "--"]
        return cmd + inner

    def limits(self, notebook_timeout: float = 1800.0) -> dict:
        """The rlimits set in the sandbox; CPU as [soft, hard]: SIGXCPU first, SIGKILL later."""
        cpu = max(1, int(self.cpu_seconds or notebook_timeout * (os.cpu_count() or 1)))
        return {
            "RLIMIT_DATA": int(self.memory),
            "RLIMIT_CPU": [cpu, cpu + 10],
            "RLIMIT_NPROC": int(self.max_processes),
            "RLIMIT_FSIZE": int(self.max_file_size),
            "RLIMIT_NOFILE": int(self.max_open_files),
            "RLIMIT_CORE": 0,
        }

    def wrap(self, argv: list[str], notebook_timeout: float = 1800.0) -> list[str]:
        """``argv`` run after the limits are set (inside the sandbox)."""
        limits = json.dumps(self.limits(notebook_timeout))
        return [sys.executable, "-I", "-S", "-c", LIMITS, limits, *argv]

    def environment(self, kernel_env: dict, source) -> dict[str, str]:
        """The kernel's whole environment: the allow-list from ``source``, then fixed values."""
        env = {name: source[name] for name in self.env_allow if name in source}
        path = [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
        env.update(
            PATH=os.pathsep.join(path),
            HOME=HOME,
            LANG=env.get("LANG", "C.UTF-8"),
            MPLCONFIGDIR=f"{HOME}/.config/matplotlib",
            PYTHONNOUSERSITE="1",
        )
        env.update(kernel_env)
        return env

    def probe(self) -> None:
        """Start a throw-away sandbox with the real mounts; raise ``SandboxError`` if it fails."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="autograder-probe-") as tmp:
            job = Path(tmp)
            (job / "conn").mkdir()
            (job / "home").mkdir()
            code = (
                "import ipykernel, os; open(os.path.expanduser('~/ok'), 'w').write('ok'); "
                "print(open(os.path.expanduser('~/ok')).read() + '-sandbox')"
            )
            cmd = self.command(self.wrap([sys.executable, "-c", code]), job, job / "conn")
            try:
                proc = subprocess.run(
                    cmd,
                    env=self.environment({}, os.environ),
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise SandboxError(self._fix(str(exc))) from None
            if proc.returncode != 0 or "ok-sandbox" not in proc.stdout:
                detail = proc.stderr.strip()[-500:] or f"exit status {proc.returncode}"
                raise SandboxError(self._fix(detail))

    def _fix(self, detail: str) -> str:
        return (
            f"cannot sandbox student kernels: bubblewrap failed to start ({detail}). "
            "Fix: bubblewrap needs user namespaces: run as root, or enable them "
            "(`sudo sysctl -w kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04 also "
            "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`); in Docker run the "
            "container with `--security-opt seccomp=unconfined --security-opt apparmor=unconfined`"
            " or `--privileged`. Or grade with --no-sandbox (student code then runs with your "
            "rights: only for trusted submissions)."
        )

    def max_workers(self) -> int:
        """How many kernels fit in the memory available now (at least 1)."""
        per = int(self.memory) + 512 * MIB  # the grading worker itself
        return max(1, available_memory() // per)


# --- jupyter_client plumbing ------------------------------------------------------------------
class SandboxProvisioner(LocalProvisioner):
    """``LocalProvisioner`` that launches the kernel inside the sandbox of its manager."""

    async def pre_launch(self, **kwargs):
        km = self.parent
        kwargs = await super().pre_launch(**kwargs)
        job = Path(km.job_dir)
        sandbox = km.sandbox
        inner = sandbox.wrap(kwargs["cmd"], km.notebook_timeout)
        kwargs["cmd"] = sandbox.command(inner, job, Path(km.connection_file).parent)
        kwargs["env"] = sandbox.environment(km.kernel_env, kwargs.get("env") or {})
        kwargs.pop("cwd", None)
        self.kernel_spec.interrupt_mode = "message"  # bwrap does not forward SIGINT
        self._log = open(job / "kernel.log", "wb")  # noqa: SIM115 - closed in cleanup
        kwargs["stdout"] = kwargs["stderr"] = self._log
        km.cgroups = JobCgroups(sandbox.max_processes, int(sandbox.memory * 1.5) + 256 * MIB)
        kwargs["preexec_fn"] = km.cgroups.enter
        return kwargs

    async def poll(self):
        ret = await super().poll()
        if ret is not None:
            self.parent.exit_code = ret
        return ret

    async def wait(self):
        ret = await super().wait()
        if ret is not None and self.parent.exit_code is None:
            self.parent.exit_code = ret
        return ret

    async def cleanup(self, restart: bool = False) -> None:
        unseal(Path(self.parent.connection_file).parent)
        await super().cleanup(restart)
        log_fh = getattr(self, "_log", None)
        if log_fh is not None:
            log_fh.close()
        cg = getattr(self.parent, "cgroups", None)
        if cg is not None:
            self.parent.oom_killed = cg.oom_killed()
            cg.remove()


def grader_paths() -> list[str]:
    """Where the grader's own package lives (its real path too, if a link leads there)."""
    package = Path(__file__).resolve().parent
    return sorted({str(package), os.path.abspath(Path(__file__).parent)})


def seal(conn: Path) -> None:
    """Once the kernel's sockets exist, nothing more may be written in its connection folder:
    the folder and the connection file become read-only (the sockets stay usable)."""
    for entry in conn.iterdir():
        if entry.is_file() and not entry.is_symlink():
            entry.chmod(0o400)
    conn.chmod(0o555)


def unseal(conn: Path) -> None:
    """Make a sealed connection folder removable again."""
    try:
        conn.chmod(0o700)
        for entry in conn.iterdir():
            if entry.is_file() and not entry.is_symlink():
                entry.chmod(0o600)
    except OSError:
        pass


class SandboxKernelManager(AsyncKernelManager):
    """Kernel manager whose kernels run sandboxed, talking over Unix sockets in the job folder.

    The job folder is the parent of the ``cwd`` the kernel is started with (``<job>/home``).
    """

    sandbox: Sandbox | None = None  # set on the subclass made by ``kernel_manager_class``
    kernel_env: dict = {}
    notebook_timeout: float = 1800.0
    #: The manager of each job folder, so that the grader can read how its kernel ended.
    last: dict = {}

    def __init__(self, **kw):
        super().__init__(**kw)
        self.exit_code = None
        self.oom_killed = False
        self.cgroups = None
        self.job_dir = None

    async def _async_pre_start_kernel(self, **kw):
        home = Path(kw["cwd"])
        self.job_dir = str(home.parent)
        conn = home.parent / "conn"
        conn.mkdir(exist_ok=True)
        self.transport = "ipc"
        self.ip = str(conn / "k")
        self.connection_file = str(conn / "kernel.json")
        SandboxKernelManager.last[self.job_dir] = self
        self.provisioner = SandboxProvisioner(
            kernel_id=kw.get("kernel_id") or str(uuid.uuid4()),
            kernel_spec=self.kernel_spec,
            parent=self,
        )
        return await super()._async_pre_start_kernel(**kw)

    def seal(self) -> None:
        """Called by the grader once the kernel answered: see ``seal``."""
        seal(Path(self.connection_file).parent)


def kernel_manager_class(sandbox: Sandbox, kernel_env: dict, notebook_timeout: float):
    """A ``SandboxKernelManager`` subclass bound to these settings."""
    return type(
        "BoundSandboxKernelManager",
        (SandboxKernelManager,),
        {"sandbox": sandbox, "kernel_env": dict(kernel_env), "notebook_timeout": notebook_timeout},
    )


def kernel_outcome(job_dir: str) -> dict:
    """How the sandboxed kernel of ``job_dir`` ended: exit code, OOM kill, its log's tail."""
    km = SandboxKernelManager.last.pop(str(job_dir), None)
    out = {"exit_code": None, "oom_killed": False, "log": ""}
    if km is not None:
        out["exit_code"] = km.exit_code
        out["oom_killed"] = km.oom_killed
    try:
        with open(Path(job_dir) / "kernel.log", "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 20000))
            out["log"] = fh.read().decode("utf-8", "replace")
    except OSError:
        pass
    return out


#: Exit status of a kernel stopped by its CPU-time limit (128 + SIGXCPU).
CPU_LIMIT_EXIT = 128 + signal.SIGXCPU
