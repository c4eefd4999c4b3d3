"""Load ``nbgrader_config.py`` into a traitlets ``Config`` shared by every command."""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.paths import CONFIG_FILE


def load_config(path: Path = CONFIG_FILE) -> Config:
    """Return the configuration in ``path`` (``autograder/nbgrader_config.py`` by default)."""
    path = Path(path)
    loader = PyFileConfigLoader(path.name, path=str(path.parent))
    return loader.load_config()
