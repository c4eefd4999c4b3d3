"""Helpers for the Keras Deep Dive course notebooks.

Importing this package has no side effects: no seeding, printing or global settings.
Modules: ``config`` (size switch, seeding, versions, Colab), ``data`` (offline-first datasets),
``plots`` (figures), ``inspect`` (model summaries as data), ``checks`` (exercise feedback).
"""

from course_utils.config import (
    REPO_URL,
    course_size,
    in_colab,
    is_small,
    pick,
    require,
    reset_session,
)

__all__ = [
    "REPO_URL",
    "course_size",
    "in_colab",
    "is_small",
    "pick",
    "require",
    "reset_session",
]
__version__ = "0.1.0"
