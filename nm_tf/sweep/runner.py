"""Run many anneals: one task per run, each in its own process with one TF thread.

Backends:

* ``local`` (default): a process pool on this machine (``spawn``: TensorFlow must not be
  forked), one fresh process per run.
* ``ray``: one Ray task per run (``num_cpus=1``, or a GPU fraction where the cluster has
  GPUs), on a running cluster (``address``) or a local Ray with ``jobs`` CPUs. Ray retries a
  task whose worker process died; the task resumes the run from its checkpoints.

A task reuses a finished run, resumes a started one and starts a new one otherwise
(:func:`~nm_tf.annealing.driver.anneal_or_reuse`), so a sweep can be re-run at any time
and never loses finished work. A run that fails is reported with its error; the others go on.

With ``ensemble_max = K > 1``, runs that differ only in seed are trained together, up to K per process, as one
ensemble (:mod:`~nm_tf.annealing.ensemble_run`); each keeps its own run directory and its own row in the table.
Configurations an ensemble cannot train (SR, a symmetry group, replicas) still run one per process.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from pathlib import Path
from ..cluster import ray_session
from ..runtime import quiet_tensorflow
from ..errors import UsageError

__all__ = ["RunTask", "execute", "execute_unit", "group_into_ensembles", "run_tasks"]


@dataclasses.dataclass(frozen=True)
class RunTask:
    """One anneal: its run directory and its configuration (as a dict of AnnealConfig fields)."""

    name: str
    workdir: str
    config: dict


def execute(task: RunTask) -> dict:
    """Run one task in this process and return ``{name, status, error, seconds, summary}``."""
    quiet_tensorflow()
    t0 = time.monotonic()
    try:
        from ..runtime import configure_threads, import_tensorflow

        import_tensorflow()
        from ..annealing.config import AnnealConfig
        from ..workflow import run_anneal

        configure_threads(1, 1)
        logging.getLogger("nm_tf").setLevel(logging.WARNING)   # a worker's progress would interleave
        cfg = AnnealConfig.from_dict(task.config)
        summary = run_anneal(cfg, task.workdir, reuse=True)
        return {"name": task.name, "status": "ok", "error": "", "seconds": time.monotonic() - t0,
                "summary": summary}
    except Exception as exc:  # noqa: BLE001 - reported in the table, the sweep goes on
        detail = traceback.format_exc(limit=-3)
        return {"name": task.name, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "traceback": detail, "seconds": time.monotonic() - t0, "summary": {}}


def execute_unit(unit: tuple) -> list:
    """Run one task, or several that differ only in seed as one ensemble; one result per task."""
    if len(unit) == 1:
        return [execute(unit[0])]
    quiet_tensorflow()
    t0 = time.monotonic()
    error, detail = "", ""
    try:
        from ..runtime import configure_threads, import_tensorflow

        import_tensorflow()
        from ..annealing.config import AnnealConfig
        from ..workflow import run_ensemble

        configure_threads(1, 1)
        logging.getLogger("nm_tf").setLevel(logging.WARNING)
        run_ensemble([AnnealConfig.from_dict(t.config) for t in unit], [t.workdir for t in unit], reuse=True)
    except Exception as exc:  # noqa: BLE001 - the members that finished are reported as such, the rest failed
        error, detail = f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=-3)
    from ..annealing.rundir import RunDir

    seconds = time.monotonic() - t0
    out = []
    for t in unit:
        rd = RunDir(t.workdir)
        if rd.finished:
            out.append({"name": t.name, "status": "ok", "error": "", "seconds": seconds, "summary": rd.summary()})
        else:
            out.append({"name": t.name, "status": "failed", "error": error or "did not finish",
                        "traceback": detail, "seconds": seconds, "summary": {}})
    return out


def group_into_ensembles(tasks, ensemble_max: int) -> list:
    """Units of work: tuples of tasks whose configurations differ only in seed, at most ``ensemble_max`` each
    (in seed order); a configuration an ensemble cannot train is a unit of its own."""
    from ..annealing.config import AnnealConfig
    from ..annealing.ensemble_run import check_ensemble

    if ensemble_max <= 1:
        return [(t,) for t in tasks]
    families = {}
    for t in tasks:
        key = tuple(sorted((k, repr(v)) for k, v in t.config.items() if k != "seed"))
        families.setdefault(key, []).append(t)
    units = []
    for family in families.values():
        try:
            check_ensemble([AnnealConfig.from_dict(family[0].config)])
        except UsageError:
            units += [(t,) for t in family]
            continue
        family = sorted(family, key=lambda t: t.config.get("seed", 0))
        units += [tuple(family[i:i + ensemble_max]) for i in range(0, len(family), ensemble_max)]
    return units


def _report(log, done: int, total: int, result: dict):
    what = "ok" if result["status"] == "ok" else f"FAILED ({result['error']})"
    log(f"[{done}/{total}] {result['name']}: {what} in {result['seconds'] / 60:.1f} min")


def _failed(unit, error: str) -> list:
    return [{"name": t.name, "status": "failed", "error": error, "seconds": 0.0, "summary": {}} for t in unit]


def _collect(results: dict, got: list, done: int, total: int, log) -> int:
    """Record a unit's results, report each; returns the count done."""
    for result in got:
        done += 1
        results[result["name"]] = result
        _report(log, done, total, result)
    return done


def _local(units, jobs: int, log, total: int):
    import concurrent.futures as cf
    import multiprocessing as mp

    results, done = {}, 0
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, max_tasks_per_child=1) as pool:
        futures = {pool.submit(execute_unit, u): u for u in units}
        for fut in cf.as_completed(futures):
            unit = futures[fut]
            try:
                got = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker process died (e.g. killed)
                got = _failed(unit, f"worker died: {exc}")
            done = _collect(results, got, done, total, log)
    return results


def _ray(units, jobs: int, address, log, total: int, max_retries: int = 3):
    with ray_session(jobs, address) as ray:
        gpus = ray.cluster_resources().get("GPU", 0)
        remote = ray.remote(num_cpus=1, num_gpus=0.25 if gpus else 0, max_retries=max_retries)(execute_unit)
        refs = {remote.remote(u): u for u in units}
        results, pending, done = {}, list(refs), 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            unit = refs[ready[0]]
            try:
                got = ray.get(ready[0])
            except Exception as exc:  # noqa: BLE001 - retries exhausted
                got = _failed(unit, f"task failed: {exc}")
            done = _collect(results, got, done, total, log)
        return results


def run_tasks(tasks, jobs: int = 1, backend: str = "local", address=None, log=None, ensemble_max: int = 1) -> list:
    """Run every task; returns one result dict per task, in the order given.

    Args:
        tasks: :class:`RunTask` list.
        jobs: processes (local) or CPUs of a local Ray.
        backend: ``"local"`` or ``"ray"``.
        address: a running Ray cluster (``ray://host:10001`` or ``host:6379``); None = local Ray.
        ensemble_max: train up to this many runs that differ only in seed as one ensemble (1: one run each).
    """
    log = log or logging.getLogger("nm_tf.sweep").info
    tasks = list(tasks)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise UsageError(f"jobs must be a positive integer, got {jobs!r}")
    if backend not in ("local", "ray"):
        raise UsageError(f"backend must be 'local' or 'ray', got {backend!r}")
    if not isinstance(ensemble_max, int) or isinstance(ensemble_max, bool) or ensemble_max < 1:
        raise UsageError(f"ensemble_max must be a positive integer, got {ensemble_max!r}")
    for t in tasks:
        Path(t.workdir).parent.mkdir(parents=True, exist_ok=True)
    if not tasks:
        return []
    units = group_into_ensembles(tasks, ensemble_max)
    if backend == "ray":
        results = _ray(units, jobs, address, log, len(tasks))
    else:
        results = _local(units, jobs, log, len(tasks))
    return [results[t.name] for t in tasks]
