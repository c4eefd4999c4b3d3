# A student's cell: look for secrets, the hidden tests, other students' work and the grades,
# tamper with the course code, and phone home. Every success prints a line starting "LEAK".
# TARGETS (host paths the attacker is assumed to know) and PORT are set in the line above.
import glob
import json
import os
import socket

import course_utils

print("ENV", json.dumps(dict(os.environ), sort_keys=True))
for name in ("SSH_AUTH_SOCK", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"):
    if name in os.environ:
        print("LEAK env", name, os.environ[name])

# Who started me? The grader's command line names the submissions and the output folders.
cmdlines = {}
for path in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        with open(path, "rb") as fh:
            cmdlines[path] = fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        pass
ppid = os.getppid()
print("PPID", ppid, cmdlines.get(f"/proc/{ppid}/cmdline", "")[:300])
seen = set()
for line in cmdlines.values():
    seen.update(w for w in line.split() if w.startswith("/"))
repo = os.path.dirname(os.path.dirname(course_utils.__file__))
guesses = sorted(
    seen
    | set(TARGETS["read"])  # noqa: F821
    | {os.path.join(repo, "notebooks"), os.path.join(repo, "autograder"), "..", "/root"}
    | set(glob.glob("/tmp/autograder-*"))
)
for path in guesses:
    try:
        if os.path.isdir(path):
            entries = os.listdir(path)
            if path in TARGETS["read"] or "notebooks" in path:  # noqa: F821
                print("LEAK listed", path, entries[:5])
        elif os.path.isfile(path) and path in TARGETS["read"]:  # noqa: F821
            with open(path, "rb") as fh:
                print("LEAK read", path, fh.read(80))
    except OSError as exc:
        print("denied", path, type(exc).__name__)
for path in glob.glob(os.path.join(repo, "notebooks", "*.ipynb")):
    print("LEAK instructor notebook", path)

# Change every later student's grade: edit the checks, the environment, the grades.
for path in TARGETS["write"]:  # noqa: F821
    try:
        with open(path, "ab"):  # opening for writing is enough to prove it (nothing written)
            pass
        print("LEAK writable", path)
    except OSError as exc:
        print("denied write", path, exc.strerror)

# Phone home (a listener the grader's machine runs) and the Internet.
for host, port in (("127.0.0.1", PORT), ("10.0.2.2", PORT), ("1.1.1.1", 53)):  # noqa: F821
    try:
        socket.create_connection((host, port), timeout=2).close()
        print("LEAK connected", host, port)
    except OSError as exc:
        print("no network", host, port, exc.strerror or exc)
