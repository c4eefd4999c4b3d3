# A student's cell: fill the disk (the home folder, then /tmp) until the system says no, then
# try to leave files in the kernel's connection folder (named on the kernel's command line).
import os
import sys

chunk = b"x" * (8 * 1024 * 1024)
for folder in (os.path.expanduser("~"), "/tmp"):
    written = 0
    try:
        with open(os.path.join(folder, "fill.bin"), "wb") as fh:
            while written < 4 * 1024**3:
                fh.write(chunk)
                fh.flush()
                written += len(chunk)
    except OSError as exc:
        print("FULL", folder, written // 2**20, "MiB:", exc.strerror)
    finally:
        try:
            os.remove(os.path.join(folder, "fill.bin"))
        except OSError:
            pass

print("CAPS", open("/proc/self/status").read().split("CapEff:")[1].split()[0])
connection = sys.argv[sys.argv.index("-f") + 1]
for target in (os.path.join(os.path.dirname(connection), "planted.bin"), connection):
    try:
        with open(target, "ab") as fh:
            fh.write(b"y" * 1024)
        print("WROTE", target)
    except OSError as exc:
        print("CONN DENIED", exc.strerror)

with open(os.path.expanduser("~/last.bin"), "wb") as fh:  # the disk is full once more
    fh.write(chunk * 16)
