"""``nm-tf sweep``: the product of config lists, run in parallel, one results table."""

from __future__ import annotations

import json
import os
from pathlib import Path
from ..errors import UsageError
from ..sweep.results import write_results

__all__ = ["add_parser"]


def add_parser(sub):
    p = sub.add_parser("sweep", help="run the product of config lists (sizes x seeds x ...) in parallel")
    p.add_argument("--spec", required=True,
                   help="YAML/JSON with 'base' (AnnealConfig fields) and 'sweep' (field: [values])")
    p.add_argument("--workdir", required=True,
                   help="sweep directory: runs in WORKDIR/runs/<name>, table in WORKDIR/results.csv")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: a process pool on this machine (default); ray: Ray tasks")
    p.add_argument("--address", default=None, help="Ray cluster address (ray backend); default: start a local Ray")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="parallel runs (local processes, or CPUs of a local Ray); default: the number of cores")
    p.add_argument("--ensemble-max", type=int, default=1, metavar="K",
                   help="train up to K runs that differ only in seed as one ensemble in one process (default 1: "
                        "one run per process); on a GPU this is what fills the device")
    p.add_argument("--json", action="store_true", help="print one JSON object (runs, finished, failed, table)")
    p.add_argument("--max-runs", type=int, default=1000,
                   help="refuse a spec whose product of sweep lists has more runs than this (default 1000)")
    p.set_defaults(func=_run, checks_before_tensorflow=True)


def _run(args) -> int:
    from ..cluster import ray_module
    from ..sweep.runner import RunTask, run_tasks
    from ..sweep.spec import load_sweep_spec

    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
    if args.backend == "ray":
        ray_module()   # a clear message before any work when Ray is missing
    elif args.address:
        raise UsageError("--address needs --backend ray")
    if args.ensemble_max < 1:
        raise UsageError(f"--ensemble-max must be >= 1, got {args.ensemble_max}")
    if args.max_runs < 1:
        raise UsageError(f"--max-runs must be >= 1, got {args.max_runs}")
    spec = load_sweep_spec(args.spec, max_runs=args.max_runs)
    from . import start_tensorflow

    start_tensorflow(args)     # after the checks: a bad spec is refused in well under a second
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tasks = [RunTask(name, str(workdir / "runs" / name), cfg.to_dict()) for name, cfg in spec.runs()]
    results = run_tasks(tasks, jobs=args.jobs, backend=args.backend, address=args.address,
                        ensemble_max=args.ensemble_max)
    path = write_results(workdir, list(spec.sweep), tasks, results)
    failed = [r["name"] for r in results if r["status"] != "ok"]
    if args.json:
        print(json.dumps({"runs": len(results), "finished": len(results) - len(failed), "failed": failed,
                          "table": str(path)}))
    else:
        print(f"{len(results) - len(failed)} of {len(results)} runs finished; table in {path}"
              + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
