"""Cost of the classical baselines per sweep, and their wall time on a Table I budget.

    python benchmarks/bench_baselines.py [--sizes 8,15,16] [--sweeps 500,5500] [--sa-sweeps 200] [--sa-only]

Parallel tempering (10 chains x 10 replicas, as the experiments run it) is timed at two sweep counts
and the difference gives the cost per sweep without compilation; simulated annealing (100 chains, NumPy)
is timed on ``--sa-sweeps`` (``--sa-only``: SA alone). A Table I budget is 51 000 steps x 100 samples = 51 000 PT
sweeps of 100 replica-chains, or 51 000 SA sweeps of 100 chains.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
TABLE_ONE_SWEEPS = 51_000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="8,15,16")
    ap.add_argument("--sweeps", default="500,5500", help="two PT sweep counts; their difference is timed")
    ap.add_argument("--sa-sweeps", type=int, default=200)
    ap.add_argument("--sa-only", action="store_true", help="time simulated annealing only (PT: -)")
    args = ap.parse_args()

    from nm_tf.runtime import configure_threads

    configure_threads(1, 1)
    import tensorflow as tf

    from nm_tf.baselines import PTConfig, SAConfig, parallel_tempering, simulated_annealing

    device = ", ".join(d.name for d in tf.config.list_logical_devices())
    print(f"PT: 10 chains x 10 replicas, T = 0.3 .. 3; SA: 100 chains; device {device}, {os.cpu_count()} cores, "
          f"one TF thread")
    print("\n| L | PT ms / sweep | PT Table I (min) | SA ms / sweep | SA Table I (min) |")
    print("|---|---|---|---|---|")
    few, many = (int(x) for x in args.sweeps.split(","))
    for L in (int(x) for x in args.sizes.split(",")):
        walls = [0.0, 0.0]
        for sweeps in () if args.sa_only else (few, many):
            t0 = time.monotonic()
            parallel_tempering(PTConfig(L=L, chains=10, replicas=10, sweeps=sweeps, T_min=0.3, T_max=3.0, seed=0))
            walls[sweeps == many] = time.monotonic() - t0
        pt = 1000 * (walls[1] - walls[0]) / (many - few)
        t0 = time.monotonic()
        simulated_annealing(SAConfig(L=L, chains=100, sweeps=args.sa_sweeps, seed=0))
        sa = 1000 * (time.monotonic() - t0) / args.sa_sweeps
        pt_cells = "- | -" if args.sa_only else f"{pt:.2f} | {pt * TABLE_ONE_SWEEPS / 6e4:.1f}"
        print(f"| {L} | {pt_cells} | {sa:.2f} | {sa * TABLE_ONE_SWEEPS / 6e4:.1f} |", flush=True)


if __name__ == "__main__":
    main()
