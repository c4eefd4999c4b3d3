"""The private methods of nbclient, nbconvert and jupyter_client that the grader overrides or
calls keep the signatures it was written against; ``pyproject.toml`` bounds their versions to
the releases checked here, so an upgrade that changes one fails this test, not a class's grades.
"""

from __future__ import annotations

import inspect
import tomllib
from importlib import metadata

import pytest
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from nbclient import NotebookClient
from nbconvert.preprocessors import ExecutePreprocessor
from packaging.requirements import Requirement

from autograder.paths import REPO

#: (class, method) -> parameter names; where the grader uses it.
PINNED = {
    # time_limits.py overrides it: interrupt, mark the cell, go on
    (NotebookClient, "_async_handle_timeout"): ["self", "timeout", "cell"],
    # output_caps.py overrides it: caps update_display(...)
    (NotebookClient, "_update_display_id"): ["self", "display_id", "msg"],
    # output_caps.py overrides it (public, but its arguments are nbclient's own)
    (NotebookClient, "output"): ["self", "outs", "msg", "display_id", "cell_index"],
    # execute_graded.py calls these
    (NotebookClient, "_async_check_alive"): ["self"],
    (NotebookClient, "async_execute_cell"): [
        "self",
        "cell",
        "cell_index",
        "execution_count",
        "store_history",
    ],
    (ExecutePreprocessor, "_check_assign_resources"): ["self", "resources"],
    # sandbox.py overrides it to put the kernel's sockets in the job folder
    (AsyncKernelManager, "_async_pre_start_kernel"): ["self", "transport_encryption", "kw"],
    (LocalProvisioner, "pre_launch"): ["self", "kwargs"],
    (LocalProvisioner, "cleanup"): ["self", "restart"],
}
#: Private attributes read or written: they must still exist on an instance.
ATTRIBUTES = {NotebookClient: ["code_cells_executed", "_display_id_map", "km", "kc"]}


@pytest.mark.parametrize(("owner", "name"), list(PINNED), ids=lambda v: getattr(v, "__name__", v))
def test_overridden_and_called_methods_keep_their_signature(owner, name):
    params = list(inspect.signature(getattr(owner, name)).parameters)
    assert params == PINNED[(owner, name)], f"{owner.__name__}.{name} is now {params}"


def test_private_attributes_still_exist():
    import nbformat

    client = NotebookClient(nbformat.v4.new_notebook())
    client.reset_execution_trackers()
    for owner, names in ATTRIBUTES.items():
        for name in names:
            assert hasattr(client, name), f"{owner.__name__}.{name} is gone"


@pytest.mark.parametrize("package", ["nbclient", "jupyter_client", "nbconvert"])
def test_versions_are_bounded_to_what_is_pinned(package):
    """pyproject.toml gives an upper bound, and the installed version is inside it."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = project["dependencies"] + [
        r for extra in project["optional-dependencies"].values() for r in extra
    ]
    specs = [Requirement(r) for r in lines if Requirement(r).name == package]
    assert specs, f"{package} is not a declared dependency"
    spec = specs[0]
    assert any(s.operator in ("<", "<=", "~=", "==") for s in spec.specifier), spec
    assert metadata.version(package) in spec.specifier, (metadata.version(package), spec)
