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

__all__ = ["RunTask", "execute", "run_tasks"]


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


def _report(log, done: int, total: int, result: dict):
    what = "ok" if result["status"] == "ok" else f"FAILED ({result['error']})"
    log(f"[{done}/{total}] {result['name']}: {what} in {result['seconds'] / 60:.1f} min")


def _local(tasks, jobs: int, log):
    import concurrent.futures as cf
    import multiprocessing as mp

    results = {}
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, max_tasks_per_child=1) as pool:
        futures = {pool.submit(execute, t): t for t in tasks}
        for k, fut in enumerate(cf.as_completed(futures), 1):
            task = futures[fut]
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker process died (e.g. killed)
                result = {"name": task.name, "status": "failed", "error": f"worker died: {exc}",
                          "seconds": 0.0, "summary": {}}
            results[task.name] = result
            _report(log, k, len(tasks), result)
    return [results[t.name] for t in tasks]


def _ray(tasks, jobs: int, address, log, max_retries: int = 3):
    with ray_session(jobs, address) as ray:
        gpus = ray.cluster_resources().get("GPU", 0)
        remote = ray.remote(num_cpus=1, num_gpus=0.25 if gpus else 0, max_retries=max_retries)(execute)
        refs = {remote.remote(t): t for t in tasks}
        results, pending, done = {}, list(refs), 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            task = refs[ready[0]]
            try:
                result = ray.get(ready[0])
            except Exception as exc:  # noqa: BLE001 - retries exhausted
                result = {"name": task.name, "status": "failed", "error": f"task failed: {exc}",
                          "seconds": 0.0, "summary": {}}
            done += 1
            results[task.name] = result
            _report(log, done, len(tasks), result)
        return [results[t.name] for t in tasks]


def run_tasks(tasks, jobs: int = 1, backend: str = "local", address=None, log=None) -> list:
    """Run every task; returns one result dict per task, in the order given.

    Args:
        tasks: :class:`RunTask` list.
        jobs: processes (local) or CPUs of a local Ray.
        backend: ``"local"`` or ``"ray"``.
        address: a running Ray cluster (``ray://host:10001`` or ``host:6379``); None = local Ray.
    """
    log = log or logging.getLogger("nm_tf.sweep").info
    tasks = list(tasks)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise UsageError(f"jobs must be a positive integer, got {jobs!r}")
    if backend not in ("local", "ray"):
        raise UsageError(f"backend must be 'local' or 'ray', got {backend!r}")
    for t in tasks:
        Path(t.workdir).parent.mkdir(parents=True, exist_ok=True)
    if not tasks:
        return []
    if backend == "ray":
        return _ray(tasks, jobs, address, log)
    return _local(tasks, jobs, log)
