"""The grading results as files: one CSV row per submission and the per-cell JSON next to it.

``grade`` and ``merge`` both write them through ``write_results``, so a merged class is byte
for byte what one unsharded run writes.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from autograder.paths import atomic_write_text

COLUMNS = ["student_id", "notebook", "score", "max_score", "status", "message", "sandbox"]


def format_score(value) -> str:
    """A score as the CSV writes it: ``2``, ``1.5``."""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.4g}"


def csv_text(rows: list[dict]) -> str:
    """The CSV for ``rows``, sorted by (student_id, notebook); no timings, so it is reproducible."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in sorted(rows, key=lambda r: (r["student_id"], r["notebook"])):
        writer.writerow(
            [
                row["student_id"],
                row["notebook"],
                format_score(row["score"]),
                format_score(row["max_score"]),
                row["status"],
                row["message"],
                row.get("sandbox", ""),
            ]
        )
    return buf.getvalue()


#: Identifies the JSON results file (bumped if its layout changes).
RESULTS_FORMAT = "keras-deep-dive-autograder-results/1"

#: Row keys that vary from run to run and never go into the results file.
VOLATILE_KEYS = ("seconds", "key")


def results_path(csv_path: Path) -> Path:
    """Where the per-cell results of ``csv_path`` go: same folder and name, ``.json``."""
    return Path(csv_path).with_suffix(".json")


def _clean(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in VOLATILE_KEYS}


def results_text(rows: list[dict], shard: tuple[int, int] | None = None) -> str:
    """The JSON results file for ``rows``: every row (with its ``cells``), sorted like the CSV."""
    ordered = sorted((_clean(r) for r in rows), key=lambda r: (r["student_id"], r["notebook"]))
    doc = {
        "format": RESULTS_FORMAT,
        "columns": list(COLUMNS),
        "shard": None if shard is None else f"{shard[0]}/{shard[1]}",
        "results": ordered,
    }
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_results(csv_path: Path, rows: list[dict], shard: tuple[int, int] | None = None) -> Path:
    """Write the CSV and its JSON results file (both atomically); return the JSON path."""
    atomic_write_text(Path(csv_path), csv_text(rows))
    path = results_path(csv_path)
    atomic_write_text(path, results_text(rows, shard))
    return path
