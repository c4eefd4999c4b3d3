# An honest student graded after the attackers: nothing they left may reach this kernel.
import os
import sys

for folder in {".", "..", "/tmp", os.path.expanduser("~"), *sys.path}:
    if os.path.exists(os.path.join(folder or ".", "planted_by_a.py")):
        print("LEAK planted file visible in", os.path.abspath(folder or "."))
try:
    import planted_by_a  # noqa: F401
except ImportError:
    print("no planted module")
