"""Shared pieces of the experiment scripts: presets, one pool of runs, parallel anneals, outputs.

Every script takes ``--preset quick|paper``, ``--out DIR`` (default ``results/<preset>``) and
``--jobs N`` (parallel anneals, one TF thread each; default: the number of cores). All scripts
of a preset share one pool of runs, ``DIR/runs/<mode>_L<L>_s<seed>``, so a run made for Fig. 2
is reused by the success statistics; a finished run is reused, a started one resumed, and a run
directory holding a different configuration is an error. Figures are written as PNG (200 dpi)
and PDF, with ``<name>.meta.json`` beside them: the commits of the code that made the runs and
the figure, and the wall times.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import logging  # noqa: E402

import numpy as np  # noqa: E402

from nm_tf.annealing.rundir import RunDir  # noqa: E402
from nm_tf.plotting import agg_figure as figure  # noqa: E402,F401 - re-exported for the scripts
from nm_tf.provenance import provenance  # noqa: E402
from nm_tf.sweep import RunTask, run_tasks  # noqa: E402

# Table I: T0 = Gamma0 = 10, 1000 warm-up steps, 10 000 annealing steps x 5 training steps, N_s = 100,
# N_b = 10, d_h = 40, lr 1e-4, 200 x 200 landscape grid.
PAPER = dict(warmup=1000, annealing_steps=10_000, train_steps=5, samples=100, minibatch=10, hidden=40, lr=1e-4)
# Minutes on 2 cores: shorter anneals with a larger learning rate and no mini-batches.
QUICK = dict(warmup=200, annealing_steps=400, train_steps=2, samples=100, minibatch=None, hidden=40, lr=2e-3)
LANDSCAPE_POINTS = {"paper": 200, "quick": 31}
# The runs whose four snapshots are scanned during the anneal (Figs. 4 and 5): seed 0 of these.
# Span 0.15 at L = 16: with unnormalised N(0, 1) directions the float32 RNN overflows beyond ~0.2.
# (mode, L): (span, seeds) of the standard runs that scan their landscapes in the run (Figs. 4, 5); VQA L = 5 seed 1
# too, since seed 0 ends in excited states and Fig. 4 shows a successful run beside it
LANDSCAPE_RUNS = {("vca", 5): (1.0, (0,)), ("vqa", 5): (1.0, (0, 1)), ("vca", 16): (0.15, (0,))}
SNAPSHOTS = ("before_warmup", "after_warmup", "mid_annealing", "end")
DPI = 200

# The package's messages (the sweep's "[k/n] run: ok" lines, progress) on stderr, as the CLI shows them.
_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter("%(message)s"))
logging.getLogger("nm_tf").addHandler(_handler)
logging.getLogger("nm_tf").setLevel(logging.INFO)


def choose_groups(table: dict, text: str | None, later=()) -> list:
    """The groups of a ``--groups a,b`` flag (all of ``table`` without it), in the order given; ``later`` names groups
    that exist but cannot run yet (they are accepted and left out). Exits with one line on an unknown name."""
    chosen = list(table) if not text else text.split(",")
    unknown = set(chosen) - set(table) - set(later)
    if unknown:
        raise SystemExit(f"unknown groups {sorted(unknown)}; choose from {', '.join(list(table) + list(later))}")
    return chosen


STANDARD_RUN = re.compile(r"(vca|vqa)_L(\d+)_s(\d+)")   # a plain Table I run (not an ablation, other cell, SR, fork)


def seed_of(task) -> int:
    """The seed of a task named ``..._s<seed>``."""
    return int(task.name.rsplit("_s", 1)[1])


def parser(doc: str, groups: bool = False) -> argparse.ArgumentParser:
    """The flags every script takes; ``groups``: also ``--groups a,b`` (the script's groups of runs)."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    if groups:
        p.add_argument("--groups", default=None, help="comma-separated groups of runs (default: all)")
    p.add_argument("--preset", choices=("quick", "paper"), default="quick",
                   help="quick: minutes on 2 cores; paper: Table I (default quick)")
    p.add_argument("--out", default=None, help="output folder (default results/<preset>); runs in OUT/runs/")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="anneals in parallel, one TF thread each (default: the number of cores)")
    p.add_argument("--finished-only", action="store_true",
                   help="start no anneal: use the runs already finished in the pool (the outputs name the "
                        "missing ones; only scripts that can report on part of their runs accept it)")
    return p


def readable_log_axis(ax):
    """A log y axis labelled 1, 2, 5 per decade in plain numbers (the default's 6×10⁻¹ is hard to read)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


class Experiment:
    """One figure script: its preset, its runs and its outputs."""

    def __init__(self, args, name: str):
        if args.jobs < 1:
            raise SystemExit(f"--jobs must be >= 1, got {args.jobs}")
        self.name, self.preset, self.jobs = name, args.preset, args.jobs
        self.finished_only = args.finished_only
        self.pending = []
        self.out = Path(args.out or f"results/{args.preset}")
        self.runs = self.out / "runs"
        self.t0 = time.monotonic()
        self.used = []

    # ------------------------------------------------------------------ runs
    def protocol(self, **overrides) -> dict:
        return {**(PAPER if self.preset == "paper" else QUICK), **overrides}

    def config(self, mode: str, L: int, seed: int, **extra) -> dict:
        """The configuration of run ``<mode>_L<L>_s<seed>`` (plus ``extra`` fields for study variants)."""
        fields = dict(mode=mode, L=L, seed=seed, **self.protocol())
        if mode == "vqa":
            fields["exact_points"] = 11
        span, seeds = LANDSCAPE_RUNS.get((mode, L), (None, ()))
        if seed in seeds and not extra:
            fields.update(landscape=SNAPSHOTS, landscape_points=LANDSCAPE_POINTS[self.preset],
                          landscape_span=span, landscape_seed=0)
        fields.update(extra)
        return fields

    def task(self, name: str, config: dict) -> RunTask:
        return RunTask(name, str(self.runs / name), config)

    def standard(self, mode: str, L: int, seed: int) -> RunTask:
        return self.task(f"{mode}_L{L}_s{seed}", self.config(mode, L, seed))

    def run_all(self, tasks, partial_ok: bool = False) -> dict:
        """Run (or reuse) every task in parallel; ``{name: summary}``. Stops on any failed run.

        With ``--finished-only`` nothing is run: the finished tasks' summaries are returned and the
        others listed in ``self.pending`` (and in the meta file); a script that needs every run
        (``partial_ok`` False) stops instead."""
        tasks = list(tasks)
        if self.finished_only:
            self.pending = [t.name for t in tasks if not RunDir(t.workdir).finished]
            if self.pending and not partial_ok:
                raise SystemExit(f"--finished-only: {self.name} needs every run; not finished: "
                                 + ", ".join(self.pending))
            done = [t for t in tasks if t.name not in self.pending]
            self.used += [t.name for t in done]
            print(f"--finished-only: {len(done)} of {len(tasks)} runs finished"
                  + (f"; missing: {', '.join(self.pending)}" if self.pending else ""), flush=True)
            return {t.name: RunDir(t.workdir).summary() for t in done}
        results = run_tasks(tasks, jobs=self.jobs)
        failed = [r for r in results if r["status"] != "ok"]
        if failed:
            raise SystemExit("failed runs:\n" + "\n".join(f"  {r['name']}: {r['error']}" for r in failed))
        self.used += [t.name for t in tasks]
        return {r["name"]: r["summary"] for r in results}

    def rundir(self, name: str) -> RunDir:
        return RunDir(self.runs / name)

    # ------------------------------------------------------------------ outputs
    def path(self, suffix: str) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        return self.out / f"{self.name}{suffix}"

    def save(self, fig, suffix: str = "") -> list:
        paths = [self.path(f"{suffix}.png"), self.path(f"{suffix}.pdf")]
        fig.savefig(paths[0], dpi=DPI)
        fig.savefig(paths[1])
        return paths

    def write_csv(self, suffix: str, header, rows) -> Path:
        path = self.path(f"{suffix}.csv")
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        return path

    def finish(self, suffix: str = "", runs=None, **extra):
        """Write ``<name><suffix>.meta.json``: code commits, wall times, the runs used (``runs``: these names
        instead of the runs this call ran, for a script whose outputs each use their own runs)."""
        used = self.used if runs is None else list(runs)
        pending = self.pending if runs is None else [name for name in self.pending if name in used]
        runs = {}
        for name in dict.fromkeys(used):
            rd = self.rundir(name)
            if rd.finished:
                s = rd.summary()
                runs[name] = {"code_commit": s.get("code_commit") or _pool_commit(self.out, rd.path),
                              "wall_seconds": s.get("wall_seconds")}
        meta = {"script": self.name, "preset": self.preset, "command": " ".join(sys.argv),
                "figure_code": provenance(), "script_wall_seconds": round(time.monotonic() - self.t0, 1),
                "jobs": self.jobs, "runs": runs, **({"pending_runs": pending} if pending else {}), **extra}
        self.path(f"{suffix}.meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        print(f"wrote {self.out}/{self.name}{suffix}.* ({meta['script_wall_seconds']:.0f} s)")


def _pool_commit(out: Path, run: Path):
    """When a summary has no commit (runs of older code, or code copied without git metadata): the commit
    noted in the run directory (``.commit`` in a pool, ``code_commit.txt`` in the checkout, or the
    ``PROVENANCE.md`` written for the first runs), else the one noted beside the run pool (``COMMIT``)."""
    import re

    for path in (run / ".commit", run / "code_commit.txt", out / "COMMIT"):
        if path.exists():
            return path.read_text().strip()
    notes = run / "PROVENANCE.md"
    if notes.exists():
        found = re.search(r"commit ([0-9a-f]{7,40})", notes.read_text())
        if found:
            return found.group(1)
    return None


def map_in_processes(fn, jobs, workers: int) -> list:
    """``[fn(*args) for args in jobs]`` in ``workers`` fresh (spawned) processes, in order: for work
    outside an anneal (baselines) that imports TensorFlow in the worker."""
    import concurrent.futures as cf
    import multiprocessing as mp

    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                max_tasks_per_child=1) as pool:
        return [f.result() for f in [pool.submit(fn, *args) for args in jobs]]


def running_median(x, half: int, stride: int = 1) -> np.ndarray:
    """The median of ``x[i - half : i + half + 1]`` (clipped at the ends) at every ``stride``-th ``i``."""
    return np.array([np.median(x[max(0, i - half):i + half + 1]) for i in range(0, len(x), stride)])


def cached(path, fn, *args):
    """``fn(*args)`` (a JSON-able value), kept in ``path`` and reused when the file exists: a killed study
    loses at most the baseline runs in flight. The file also records the arguments and the code."""
    path = Path(path)
    if path.exists():
        return json.loads(path.read_text())["result"]
    result = fn(*args)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"result": result, "args": list(args), **provenance()}))
    tmp.replace(path)
    return result


PT_LADDER = dict(chains=10, replicas=10, T_min=0.3, T_max=3.0)


def pt_result(L: int, seed: int, steps: int, samples: int) -> dict:
    """One parallel-tempering run on the budget of an anneal of ``steps`` x ``samples`` (ladder
    :data:`PT_LADDER`), in a worker with one TF thread: the analysis of its T = 0.3 chain's recorded
    samples and of its final states. Shared by the PT reference and the success statistics."""
    from nm_tf.runtime import configure_threads, import_tensorflow

    import_tensorflow()
    configure_threads(1, 1)
    from nm_tf.baselines import PTConfig, parallel_tempering
    from nm_tf.modes import analyse

    cfg = PTConfig.equal_budget(L, steps, samples, seed=seed, **PT_LADDER)
    t0 = time.monotonic()
    r = parallel_tempering(cfg)
    wall = time.monotonic() - t0
    a = analyse(r["samples"], L)
    out = {"L": L, "seed": seed, "sweeps": cfg.sweeps, "degeneracy": a["degeneracy"],
           "ground_state_fraction": r["ground_state_fraction"],
           "effective_ground_states": a["effective_ground_states"] or 0.0,
           "distinct_ground_states": a["distinct_ground_states"], "kl_to_uniform": a["kl_to_uniform"],
           "uniformity_p_value": a["uniformity_p_value"],
           "residual_energy_per_spin_final": r["residual_energy_per_spin"],
           "ground_state_hit_rate_final": r["ground_state_hit_rate"],
           "swap_acceptance_mean": float(np.mean(r["swap_acceptance"])),
           "swap_acceptance_min": float(np.min(r["swap_acceptance"])),
           "recorded_samples": len(r["samples"]), "wall_seconds": round(wall, 1)}
    return {k: v.item() if hasattr(v, "item") else v for k, v in out.items()}   # NumPy scalars -> JSON


def sa_result(L: int, seed: int, steps: int, samples: int) -> dict:
    """Simulated annealing on the budget of an anneal (``samples`` chains x ``steps`` sweeps, linear
    schedule from T0 = 10): residual energy per spin and ground-state hit rate of the final states
    (the keys :func:`pt_result` gives them)."""
    from nm_tf.baselines import SAConfig, simulated_annealing

    t0 = time.monotonic()
    r = simulated_annealing(SAConfig(L=L, chains=samples, sweeps=steps, T0=10.0, seed=seed))
    return {"residual_energy_per_spin_final": float(r["residual_energy_per_spin"]),
            "ground_state_hit_rate_final": float(r["ground_state_hit_rate"]),
            "wall_seconds": round(time.monotonic() - t0, 1)}


def baseline_cache(out: Path, method: str, L: int, seed: int, steps: int) -> Path:
    """Where a baseline run's result is kept: one file per (method, L, seed, budget)."""
    return Path(out) / f"{method}_runs" / f"L{L}_s{seed}_steps{steps}.json"


def anneal_rows(history) -> list:
    return [r for r in history if r.phase == "anneal"]


def seed_curves(ex: Experiment, mode: str, L: int, seeds):
    """The annealing rows of ``<mode>_L<L>_s<seed>`` for every seed: ``(rows of the first seed,
    loss per spin [seeds, annealing steps])`` (all seeds share the schedule)."""
    hists = [anneal_rows(ex.rundir(f"{mode}_L{L}_s{s}").history()) for s in seeds]
    return hists[0], np.array([[r.loss_per_spin for r in h] for h in hists])
