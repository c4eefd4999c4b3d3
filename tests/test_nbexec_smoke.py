from nbexec import execute, REPO


def test_fixture_runs_at_small_size(tmp_path):
    """Does the harness run a notebook in a fresh kernel with the small size switch?"""
    nb = execute(REPO / "tests/fixtures/tiny.ipynb", cwd=tmp_path)
    out = nb.cells[-1].outputs[0]["data"]["text/plain"]
    assert "45" in out, out
