"""Configuration of the Keras Deep Dive autograder (``python -m autograder``).

This is an ordinary nbgrader/traitlets configuration file: ``python -m autograder`` loads it on
every run, and stock ``nbgrader`` picks it up too when run from this folder. Command-line flags
(``--workers``, ``--cell-timeout``, ``--timeout``) override the values set here. Every option is
documented by the ``help`` of its trait; ``python -m autograder config`` lists them all.
"""

c = get_config()  # noqa: F821 (injected by traitlets when the file is loaded)

c.CourseDirectory.course_id = "keras-deep-dive"

# --- release: the student copies -------------------------------------------------------------
# Chapters are the notebooks/NN_<topic>.ipynb files; each one is an assignment of its own.
# The glob is defined once (autograder/paths.py CHAPTER_GLOB, the default of
# Release.notebook_glob); every command finds chapters with it. To change it, set here:
# c.Release.notebook_glob = "[0-9][0-9]_*.ipynb"

# --- grade: executing a submission -----------------------------------------------------------
# Limits count charged seconds: wall-clock seconds less the time the kernel waited for a core
# that other jobs held (autograder/kernel_clock.py), so a busy machine does not turn an honest
# student into a timeout. "wall" counts wall-clock seconds instead.
c.ExecuteGraded.clock = "charged"
# Training cells run at small size while grading; the fixed limits are generous upper bounds.
c.ExecuteGraded.cell_timeout = 600.0
c.ExecuteGraded.notebook_timeout = 1800.0
# Calibration: `grade` measures each chapter's instructor copy once (per chapter version and
# grader version) into c.ExecuteGraded.timings_file (autograder/timings.json); then a cell may
# take timing_multiple x the instructor's time for it, at least timing_floor; a notebook
# timing_multiple x the instructor's total, at least timing_notebook_floor. --cell-timeout /
# --timeout replace the calibration by fixed limits.
c.ExecuteGraded.timing_multiple = 10.0
c.ExecuteGraded.timing_floor = 20.0
c.ExecuteGraded.timing_notebook_floor = 120.0
# A run that is charged little but takes long in wall-clock time (a machine so loaded that the
# kernel hardly gets a core) is stopped after wall_backstop x its limit + wall_slack seconds.
c.ExecuteGraded.wall_backstop = 4.0
c.ExecuteGraded.wall_slack = 60.0
# After a timeout the kernel is interrupted; if it is still busy this many seconds later
# (a loop that swallows KeyboardInterrupt), it is killed and the rest of the notebook scores 0.
c.ExecuteGraded.interrupt_grace = 5.0
# Output kept per cell: text (stdout, stderr, text results, tracebacks) and rich data (images).
c.ExecuteGraded.max_text_bytes = 64 * 1024
c.ExecuteGraded.max_display_bytes = 2 * 1024 * 1024

# --- grade: the pool of grading processes ----------------------------------------------------
# 0 means one worker per CPU core.
c.GradeRunner.workers = 0
# Seconds past the per-notebook wall-clock backstop before the parent kills a stuck worker and
# its kernel.
c.GradeRunner.kill_grace = 30.0

# Stock nbgrader (if an instructor runs `nbgrader autograde` with this file): same cell limit.
c.Execute.timeout = 600
