"""Hessian-vector products of ``nm-tf curvature``: plain TensorFlow against XLA, one process, one thread.

    python benchmarks/bench_curvature.py --L 16 --samples 1000 [--mode vca|vqa] [--products 5] [--full] [--json]
    python benchmarks/bench_curvature.py --L 3 --exact --mode vqa --full      # the exact sums (N <= 16)

For each variant (``jit_compile`` False and True; VQA with a transverse field: plain only, XLA cannot compile it):
the first product (trace, or trace and compile), the first product at a second point (other T or Gamma and samples:
a trajectory's next point), the median of ``--products`` more, their largest relative
difference from the plain products, and with ``--full`` one whole point as ``nm-tf curvature`` computes it
(``hessian_extremes``, 5 largest and 5 smallest eigenvalues) with its eigenvalues and products, once with one Lanczos
run per edge (~100 products) and once with one run for both edges (the default since session 18). Random weights
of a Table I network (d_h = 40, seed 0); T = 0.2 (VCA) or Gamma = 0.3 (VQA). ``--exact``: the sums over all 2^N
states instead of samples (plain TensorFlow; the "second point" is the same weights at another Gamma or T).
"""

from __future__ import annotations

import argparse
import json
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--L", type=int, default=16)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--mode", choices=("vca", "vqa"), default="vca")
    p.add_argument("--products", type=int, default=5)
    p.add_argument("--full", action="store_true", help="also one whole point (hessian_extremes, 5 + 5)")
    p.add_argument("--exact", action="store_true", help="exact sums over all 2^N states (N <= 16)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from nm_tf.annealing import AnnealConfig
    from nm_tf.landscape.curvature import CurvatureProblem, hessian_extremes
    from nm_tf.models.factory import build_model

    quantum = args.mode == "vqa"
    model = build_model(AnnealConfig(L=args.L, hidden=40, seed=0), jit_compile=False)
    variants = (False,) if quantum or args.exact else (False, True)
    out, ref = [], None
    for xla in variants:
        problem = CurvatureProblem(model, quantum=quantum, T=0.0 if quantum else 0.2, gamma=0.3 if quantum else 0.0,
                                   samples=args.samples, seed=0, jit_compile=xla, exact=args.exact)
        v = np.random.default_rng(1).normal(size=problem.n_params)
        t = time.perf_counter()
        hv = problem.hvp(v)
        first = time.perf_counter() - t
        times = []
        for _ in range(args.products):
            t = time.perf_counter()
            hv = problem.hvp(v)
            times.append(time.perf_counter() - t)
        ref = hv if ref is None else ref
        # a second point (other weights, other samples), as along a trajectory: since session 18 the traced
        # (and compiled) product is shared, so its first product costs a product, not a trace
        other = CurvatureProblem(model, quantum=quantum, T=0.0 if quantum else 0.25, gamma=0.35 if quantum else 0.0,
                                 samples=args.samples, seed=1, jit_compile=xla, exact=args.exact)
        t = time.perf_counter()
        other.hvp(v)
        second = time.perf_counter() - t
        row = {"L": args.L, "mode": args.mode, "samples": "exact" if args.exact else args.samples, "jit_compile": xla,
               "first_product_s": round(first, 2), "second_point_first_product_s": round(second, 2),
               "product_s": round(float(np.median(times)), 3),
               "max_rel_diff_from_plain": float(np.max(np.abs(hv - ref)) / np.max(np.abs(ref)))}
        if args.full:
            for both in (False, True):        # one Lanczos run per edge, then one for both edges (the default)
                t = time.perf_counter()
                res = hessian_extremes(problem, top=5, bottom=5, seed=0, both_ends=both)
                key = "both_ends" if both else "per_edge"
                row.update({f"{key}_point_s": round(time.perf_counter() - t, 1), f"{key}_products": res["products"],
                            f"{key}_top": res["top"], f"{key}_bottom": res["bottom"]})
        out.append(row)
        if not args.json:
            print(row, flush=True)
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
