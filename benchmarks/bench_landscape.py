"""Wall time of a full loss-landscape scan (Algorithm 2) with the batched evaluator.

    python benchmarks/bench_landscape.py [--cases vca:5,vqa:5,vca:16] [--points 200] [--samples 100]

Each case scans a points x points grid around a freshly initialised d_h = 40 RNN
(the cost does not depend on the weights) at T = 1 (VCA) or Gamma = 1 (VQA),
with fresh samples at every point, as the paper does. Progress goes to stderr.
"""

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="vca:5,vqa:5,vca:16")
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--chunk", type=int, default=None, help="grid points per compiled call (default: the package's)")
    args = ap.parse_args()

    from nm_tf.runtime import configure_threads

    configure_threads(intra=args.threads)
    import numpy as np

    from nm_tf.landscape import LandscapeSpec, PlaneLoss, plane, scan_plane
    from nm_tf.landscape.scan import chunk_size
    from nm_tf.models import NewmanMooreRNN
    from nm_tf.progress import Progress
    from nm_tf.timing import timed

    print(f"{args.points}x{args.points} grid, N_s={args.samples}, d_h=40, XLA, {os.cpu_count()} cores, "
          f"{args.threads} intra-op threads")
    print("\n| mode | L | points | chunk | wall (s) | ms / point |")
    print("|---|---|---|---|---|---|")
    for case in args.cases.split(","):
        mode, L = case.split(":")
        L = int(L)
        model = NewmanMooreRNN(L, seed=0)
        center = {k: v.numpy().astype(np.float64) for k, v in model.rnn_cell.weight_dict().items()}
        delta, eta = plane(center, seed=0)
        ev = PlaneLoss(model, quantum=mode == "vqa")
        spec = LandscapeSpec(points=args.points, samples=args.samples, chunk=args.chunk)
        T, gamma = (1.0, 0.0) if mode == "vca" else (0.0, 1.0)
        with tempfile.TemporaryDirectory() as tmp:
            _, wall = timed(scan_plane, ev, center, delta, eta, spec, T=T, gamma=gamma, out=Path(tmp) / "b.npz",
                            meta={}, progress=Progress(args.points ** 2, label=f"{case} "))
        chunk = chunk_size(spec, L * L, mode == "vqa")
        print(f"| {mode} | {L} | {args.points ** 2} | {chunk} | {wall:.1f} | {1e3 * wall / args.points ** 2:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
