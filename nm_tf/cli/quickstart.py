"""``nm-tf quickstart``: anneal -> export -> serve -> query over gRPC, on embedded defaults."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from ..errors import UsageError

__all__ = ["QUICKSTART_CONFIG", "add_parser", "run_quickstart"]

# L = 3 has 4 degenerate ground states: small enough for a minute on 2 cores,
# degenerate enough to show the mode-collapse question.
QUICKSTART_CONFIG = dict(mode="vca", L=3, T0=2.0, warmup=200, annealing_steps=300, train_steps=5,
                         samples=100, hidden=20, lr=0.005, seed=0, final_samples=10_000)


def _grid(bits, L):
    return "\n".join("    " + " ".join("v" if b else "^" for b in bits[y * L:(y + 1) * L]) for y in range(L))


def run_quickstart(workdir, num_samples: int = 1000, seed: int = 1, out=print) -> dict:
    from ..annealing.config import AnnealConfig
    from ..workflow import run_anneal
    from ..annealing.rundir import RunDir
    from ..client import SamplerClient, format_stats
    from ..exact import degeneracy, ground_states
    from ..export import existing_export, export_run
    from ..server.server import SamplerServer
    from .anneal import describe_summary

    workdir = Path(workdir)
    run_dir, model_dir = workdir / "run", workdir / "models"
    cfg = AnnealConfig(**QUICKSTART_CONFIG)
    t0 = time.monotonic()
    if RunDir(run_dir).finished:
        out(f"[1/4] reusing the finished anneal in {run_dir}")
    else:
        out(f"[1/4] annealing L={cfg.L} VCA: T {cfg.T_start:g} -> 0 over {cfg.total_steps} steps ({run_dir})")
    summary = run_anneal(cfg, run_dir, reuse=True)
    out("      " + describe_summary(summary).replace("\n", "\n      "))
    path = existing_export(run_dir, model_dir, "newman_moore")
    if path is not None:
        out(f"[2/4] reusing the SavedModel {path} exported from this run")
    else:
        path = export_run(run_dir, model_dir, "newman_moore")
        out(f"[2/4] exported SavedModel to {path}")
    with SamplerServer(model_dir, grpc_port=0, rest_port=0, quiet=True) as server:
        out(f"[3/4] serving on gRPC {server.grpc_target} and REST {server.rest_url}")
        client = SamplerClient(target=server.grpc_target)
        stats = client.hamming_stats("newman_moore", num_samples, seed)
        sample = client.sample("newman_moore", num_samples, seed)
        client.close()
    out(f"[4/4] queried over gRPC ({time.monotonic() - t0:.0f} s in all)")
    out(format_stats(stats))
    L = cfg.L
    gs = ground_states(L)
    found = sample["spins"][sample["is_ground_state"]].astype(np.uint8)
    codes, counts = np.unique(found, axis=0, return_counts=True) if len(found) else (np.zeros((0, L * L)), [])
    out(f"ground states found: {len(codes)} of {degeneracy(L)} (exact)")
    indexed = sorted((int(np.flatnonzero((gs == bits).all(axis=1))[0]), bits, c) for bits, c in zip(codes, counts))
    for index, bits, c in indexed:
        out(f"  ground state #{index} (Hamming {int(L * L - bits.sum())} from trivial), {c} samples:\n{_grid(bits, L)}")
    name = run_dir.resolve().name
    out(f"TensorBoard: tensorboard --logdir {run_dir / 'tensorboard'} --host 127.0.0.1 (runs '{name}' and "
        f"'{name}_exact', the exact curve)")
    return {"summary": summary, "stats": stats, "ground_states_found": int(len(codes)), "export": str(path)}


def add_parser(sub):
    p = sub.add_parser("quickstart", help="small anneal -> export -> serve -> sample, end to end")
    p.add_argument("--workdir", default="nm-tf-quickstart")
    p.add_argument("--num-samples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quiet", action="store_true", help="no progress bar during the anneal")
    p.set_defaults(func=_run)


def _run(args) -> int:
    if args.num_samples < 1:
        raise UsageError(f"--num-samples must be >= 1, got {args.num_samples}")
    from ..runtime import configure_threads

    configure_threads()
    run_quickstart(args.workdir, args.num_samples, args.seed)
    return 0
