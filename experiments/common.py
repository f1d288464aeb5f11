"""Shared pieces of the experiment scripts: presets, resumable runs, output folders.

Every script takes ``--preset quick|paper`` and ``--out DIR`` (default
``results/<script>``). Runs live in ``<out>/runs/<name>``; a finished run
(``summary.json``) is reused, an unfinished one is resumed, so re-running a
script never loses finished work.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run from a checkout without install

# Table I: T0 = Gamma0 = 10, 1000 warm-up steps, 10 000 annealing steps x 5 training steps, N_s = 100,
# N_b = 10, d_h = 40, lr 1e-4, 200 x 200 landscape grid.
PAPER = dict(warmup=1000, annealing_steps=10_000, train_steps=5, samples=100, minibatch=10, hidden=40, lr=1e-4)
# Minutes on 2 cores: shorter anneals with a larger learning rate and no mini-batches.
from nm_tf.plotting import agg_figure as figure  # noqa: E402,F401 - re-exported for the scripts

QUICK = dict(warmup=200, annealing_steps=400, train_steps=2, samples=100, minibatch=None, hidden=40, lr=2e-3)


def parser(doc: str, name: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--preset", choices=("quick", "paper"), default="quick")
    p.add_argument("--out", default=f"results/{name}", help="output folder (default results/%(default)s)")
    p.add_argument("--quiet", action="store_true")
    return p


def protocol(preset: str, **overrides) -> dict:
    return {**(PAPER if preset == "paper" else QUICK), **overrides}


def run(out: Path, name: str, quiet: bool = False, callbacks=(), **fields) -> dict:
    """Run (or reuse / resume) the anneal ``<out>/runs/<name>`` and return its summary."""
    from nm_tf.annealing.config import AnnealConfig
    from nm_tf.annealing.driver import anneal

    workdir = Path(out) / "runs" / name
    if (workdir / "summary.json").exists():
        return json.loads((workdir / "summary.json").read_text())
    cfg = AnnealConfig(**fields)
    resume = (workdir / "config.json").exists()
    if not quiet:
        print(f"[{name}] {'resuming' if resume else 'running'} {cfg.mode} L={cfg.L} "
              f"({cfg.total_steps} steps)", file=sys.stderr, flush=True)
    return anneal(cfg, workdir, resume=resume, quiet=quiet, callbacks=callbacks)


def history(out: Path, name: str) -> list:
    with (Path(out) / "runs" / name / "history.csv").open() as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def setup():
    from nm_tf.runtime import configure_threads

    configure_threads()
