"""Sharded grading: which shard grades a student, the per-cell results file, and ``merge``.

``python -m autograder grade --shard K/N`` grades only the students whose id hashes to shard
``K`` (``0 <= K < N``); the split depends on the student id alone, never on folder order or on
the machine, so N machines given the same submissions folder grade disjoint sets of students
that together are the whole class. Each run writes its CSV and, next to it, a JSON file with
every row and its per-cell results (``grades.csv`` -> ``grades.json``).
``python -m autograder merge`` reads the shards' JSON files and writes the CSV and JSON a single
unsharded run would have written, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from autograder.results import (
    COLUMNS,
    RESULTS_FORMAT,
    csv_text,
    results_path,
    write_results,
)


class MergeError(Exception):
    """The shard files cannot be merged; the message says why, in English."""


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``0 <= K < N``; raise ``ValueError`` with a readable reason."""
    try:
        k_text, n_text = text.split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise ValueError(f"--shard must look like K/N (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= k < n:
        raise ValueError(f"--shard K/N needs 0 <= K < N, got {text!r}")
    return k, n


def shard_of(student_id: str, n: int) -> int:
    """The shard (``0 .. n-1``) that grades ``student_id``: SHA-256 of the id, modulo ``n``."""
    digest = hashlib.sha256(student_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n


def read_results(path: Path) -> dict:
    """Read a results JSON file (or the JSON next to a CSV); raise ``MergeError`` if unusable."""
    path = Path(path)
    if path.suffix == ".csv":
        path = results_path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MergeError(
            f"{path} not found: every CSV written by `grade` has its results JSON next to it"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise MergeError(f"cannot read {path}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != RESULTS_FORMAT:
        raise MergeError(f"{path} is not an autograder results file ({RESULTS_FORMAT})")
    doc["path"] = str(path)
    return doc


def merge_results(paths: list[Path]) -> list[dict]:
    """The rows of all shards, checked: same columns, one file per shard of one split, every
    shard present, no submission graded twice, each CSV unchanged since its JSON was written."""
    if not paths:
        raise MergeError("nothing to merge: give the shard CSV (or JSON) files")
    docs = [read_results(p) for p in paths]
    for doc in docs:
        if doc.get("columns") != list(COLUMNS):
            raise MergeError(
                f"{doc['path']} has columns {doc.get('columns')}, this autograder writes {COLUMNS}"
            )
        csv_file = Path(doc["path"]).with_suffix(".csv")
        if csv_file.exists() and csv_file.read_text(encoding="utf-8") != csv_text(doc["results"]):
            raise MergeError(f"{csv_file} does not match {doc['path']} (edited after grading?)")
    shards = [doc.get("shard") for doc in docs]
    if None in shards:
        if len(docs) > 1:
            unsharded = [d["path"] for d in docs if d.get("shard") is None]
            raise MergeError(f"{', '.join(unsharded)}: not a shard (graded without --shard)")
    else:
        parsed = [parse_shard(s) for s in shards]
        ns = {n for _, n in parsed}
        if len(ns) != 1:
            raise MergeError(f"shards of different splits: {', '.join(sorted(set(shards)))}")
        (n,) = ns
        seen: dict[int, str] = {}
        for (k, _), doc in zip(parsed, docs):
            if k in seen:
                raise MergeError(f"shard {k}/{n} given twice: {seen[k]} and {doc['path']}")
            seen[k] = doc["path"]
        absent = [f"{k}/{n}" for k in range(n) if k not in seen]
        if absent:
            raise MergeError(f"missing shard(s) {', '.join(absent)}: every shard is needed")
    rows: dict[tuple[str, str], dict] = {}
    for doc in docs:
        for row in doc["results"]:
            key = (row["student_id"], row["notebook"])
            if key in rows:
                raise MergeError(f"{key[0]}/{key[1]} appears in two shards")
            rows[key] = row
    return list(rows.values())


def merge(paths: list[Path], out_csv: Path) -> list[dict]:
    """Merge shard results into ``out_csv`` and its JSON; return the merged rows."""
    rows = merge_results(paths)
    write_results(out_csv, rows)
    return rows
