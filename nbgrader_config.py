"""nbgrader settings for the course's own JupyterLab (``make lab``).

nbgrader's JupyterLab extension (the Validate button, the assignment panels) reads the
``nbgrader_config.py`` of the folder the lab was started in, which is the repository root.
Grading does not use this file: ``python -m autograder`` loads ``autograder/nbgrader_config.py``.
"""

c = get_config()  # noqa: F821 (injected by traitlets when the file is loaded)

c.CourseDirectory.course_id = "keras-deep-dive"
# Validate runs the whole notebook. nbgrader's default of 30 s per cell is too short for the
# training cells on a student's laptop.
c.Execute.timeout = 600
