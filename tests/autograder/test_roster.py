"""``grade --roster students.csv``: a ``missing`` row (score 0) for each roster student who
handed in nothing for a chapter being graded, in the CSV, the JSON and the gradebook.

No kernel runs here: the submissions are unreadable or unknown files, so each ``grade`` costs
only a process start.
"""

from __future__ import annotations

import pytest
from conftest import FIXTURE_SOURCE, read_csv, run_autograder
from nbgrader.api import Gradebook, MissingEntry
from traitlets.config import Config

from autograder.grade import grade_folder
from autograder.gradebook import RosterError, read_roster
from autograder.merge import merge, shard_of

ROSTER = (
    "\ufeffid,last_name,first_name,email\n"  # nbgrader's own student import format, with a BOM
    "ann,An,Ann,ann@example.org\n"
    "bob,Bo,Bob,\n"
    "cat,Ca,Cat,\n"
    "dan,Da,Dan,\n"
    "eve,Ev,Eve,\n"
)


def _class(root):
    subs = root / "subs"
    for student, name, text in (
        ("ann", "90_tiny.ipynb", "not json"),  # handed in, cannot be graded: error, not missing
        ("bob", "99_other.ipynb", "{}"),  # handed in the wrong file only: missing 90_tiny
        ("zed", "90_tiny.ipynb", "not json"),  # not on the roster: graded, with a warning
    ):
        (subs / student).mkdir(parents=True)
        (subs / student / name).write_text(text, encoding="utf-8")
    (root / "students.csv").write_text(ROSTER, encoding="utf-8")
    return subs, root / "students.csv"


def test_roster_gives_missing_rows(tmp_path):
    """Does every roster student without a 90_tiny submission get a `missing` row scoring 0 of
    the chapter's points, with the gradebook holding them and no submission for them?"""
    subs, roster = _class(tmp_path)
    db = f"sqlite:///{tmp_path / 'gb.db'}"
    proc = run_autograder(
        "grade", str(subs), "--out", str(tmp_path / "g.csv"), "--source", str(FIXTURE_SOURCE),
        "--roster", str(roster), "--db", db, "--no-progress",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "zed handed in work but is not on the roster" in proc.stderr
    rows = read_csv(tmp_path / "g.csv")
    status = {k: (r["status"], r["score"], r["max_score"]) for k, r in rows.items()}
    assert status == {
        ("ann", "90_tiny"): ("error", "0", "3"),
        ("bob", "90_tiny"): ("missing", "0", "3"),
        ("bob", "99_other"): ("unknown_notebook", "0", "0"),
        ("cat", "90_tiny"): ("missing", "0", "3"),
        ("dan", "90_tiny"): ("missing", "0", "3"),
        ("eve", "90_tiny"): ("missing", "0", "3"),
        ("zed", "90_tiny"): ("error", "0", "3"),
    }
    with Gradebook(db, course_id="keras-deep-dive") as gb:
        assert gb.find_student("cat").first_name == "Cat"
        assert gb.find_student("ann").email == "ann@example.org"
        with pytest.raises(MissingEntry):
            gb.find_submission("90_tiny", "cat")
        assert gb.find_submission("90_tiny", "ann").score == 0
        assert gb.find_assignment("90_tiny").max_score == 3
        assert [a.name for a in gb.assignments] == ["90_tiny"]  # the unknown file added nothing


def test_roster_with_shards_merges_to_the_single_run(tmp_path):
    """Do the shards' missing rows merge into exactly the unsharded run's CSV and JSON?"""
    subs, roster = _class(tmp_path)
    config = Config()
    config.GradeRunner.progress = False
    kw = {"source_dir": FIXTURE_SOURCE, "roster": roster, "db_url": "none"}
    single = grade_folder(subs, tmp_path / "one.csv", config, **kw)
    for k in range(3):
        rows = grade_folder(subs, tmp_path / f"s{k}.csv", config, shard=(k, 3), **kw)
        assert {r["student_id"] for r in rows} <= {
            s for s in "ann bob cat dan eve zed".split() if shard_of(s, 3) == k
        }
    merged = merge([tmp_path / f"s{k}.csv" for k in range(3)], tmp_path / "merged.csv")
    assert len(merged) == len(single) == 7
    assert (tmp_path / "merged.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    assert (tmp_path / "merged.json").read_bytes() == (tmp_path / "one.json").read_bytes()
    assert not (tmp_path / "gradebook.db").exists()  # --db none writes no gradebook


def test_roster_file_is_checked(tmp_path):
    """Is a roster without an id column, or listing a student twice, refused with a reason?"""
    (tmp_path / "a.csv").write_text("name\nann\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("student_id\nann\nbob\nann\n", encoding="utf-8")
    with pytest.raises(RosterError, match="student_id"):
        read_roster(tmp_path / "a.csv")
    with pytest.raises(RosterError, match="line 4.*twice"):
        read_roster(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text("student_id,email\n ann ,a@x,extra\n\nbob,\n", encoding="utf-8")
    assert read_roster(tmp_path / "c.csv") == {"ann": {"email": "a@x"}, "bob": {}}
    subs = tmp_path / "subs"
    (subs / "ann").mkdir(parents=True)
    proc = run_autograder(
        "grade", str(subs), "--out", str(tmp_path / "g.csv"), "--roster", str(tmp_path / "a.csv")
    )
    assert proc.returncode == 2 and "student_id (or id) column" in proc.stderr
    assert not (tmp_path / "g.csv").exists()
