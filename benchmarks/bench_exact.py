"""Time the exact references: degeneracy (GF(2) rank), free energy (MacWilliams), Lanczos.

    python benchmarks/bench_exact.py [--quick]
"""

import argparse
import os
import resource

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from nm_tf.exact import clear_caches, log2_degeneracy, quantum_ground_energy, thermodynamics  # noqa: E402
from nm_tf.timing import machine, timed  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip L=31 free energy and L=5 Lanczos")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print("\n| L | log2 degeneracy | GF(2) rank time (s) |\n|---|---|---|")
    for L in (3, 6, 7, 15, 16, 31, 32, 48, 63, 64):
        clear_caches()
        k, dt = timed(log2_degeneracy, L)
        print(f"| {L} | {k} | {dt:.3f} |")
    print("\n| L | dual code size | F(T=0.5) per spin | time, cold cache (s) |\n|---|---|---|---|")
    sizes = (3, 6, 7, 15, 16, 24, 32) + (() if args.quick else (31,))
    for L in sizes:
        clear_caches()
        th, dt = timed(thermodynamics, L, 0.5)
        print(f"| {L} | 2^{log2_degeneracy(L)} | {th['free_energy']:.12f} | {dt:.3f} |")
    print("\n| L | Gamma | e0 per spin | time (s) | peak RSS (MB) |\n|---|---|---|---|---|")
    for L in (4,) + (() if args.quick else (5,)):
        for g in (0.5, 1.0):
            e, dt = timed(quantum_ground_energy, L, g)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"| {L} | {g} | {e:.12f} | {dt:.2f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
