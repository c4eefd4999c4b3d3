"""Helpers for the Keras Deep Dive course notebooks.

Importing this package has no side effects (no seeding, printing or global settings) and does
not import TensorFlow; it does check, from the installed metadata, that a TensorFlow of at least
``config.MIN_TENSORFLOW`` is there (any build: ``tensorflow``, ``tensorflow-cpu``, ``tf-nightly``),
and raises ``ImportError`` with a Chinese and English message saying what to install if not.
Modules: ``config`` (size switch, seeding, versions, Colab), ``data`` (offline-first datasets),
``plots`` (figures), ``inspect`` (model summaries as data), ``checks`` (exercise feedback).
"""

from course_utils.config import (
    MIN_TENSORFLOW,
    REPO_URL,
    check_tensorflow,
    course_size,
    in_colab,
    is_small,
    pick,
    require,
    reset_session,
)
from course_utils.hints import hint

__all__ = [
    "MIN_TENSORFLOW",
    "REPO_URL",
    "check_tensorflow",
    "course_size",
    "hint",
    "in_colab",
    "is_small",
    "pick",
    "require",
    "reset_session",
]
__version__ = "0.1.0"

check_tensorflow()
