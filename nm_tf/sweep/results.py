"""The results table of a sweep (``results.csv`` and ``results.json``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

__all__ = ["write_results"]


def write_results(workdir: Path, swept: list, tasks, results) -> Path:
    """``results.csv`` and ``results.json``: the swept fields, then status/error/seconds, then the summary keys."""
    rows = []
    for task, result in zip(tasks, results):
        row = {"run": task.name, **{k: task.config[k] for k in swept},
               "status": result["status"], "error": result["error"], "seconds": round(result["seconds"], 1)}
        row.update(result.get("summary") or {})
        rows.append(row)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    tmp = workdir / "results.csv.tmp"
    with tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, columns)
        w.writeheader()
        w.writerows(rows)
    tmp.replace(workdir / "results.csv")
    tmp = workdir / "results.json.tmp"
    tmp.write_text(json.dumps(rows, indent=1) + "\n")
    tmp.replace(workdir / "results.json")
    return workdir / "results.csv"
