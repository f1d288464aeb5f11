"""Cost of one annealing training step (VCA and VQA) and the wall time of the Table I protocol.

    python benchmarks/bench_anneal.py [--cases vca:5,vca:16,vqa:3,vqa:5] [--repeats 20] [--minibatch 10]
    python benchmarks/bench_anneal.py --cases vqa:8,vqa:8:8,vqa:16:16 --minibatch 10   # mode:L[:K sampled flips]
    python benchmarks/bench_anneal.py --cases vca:6,vca:16 --sr-shift 0.01 [--autodiff]  # SR's step (issue 27)

Table I: 1000 warm-up + 10 000 x 5 annealing training steps = 51 000 steps of N_s = 100 samples.
"""

import argparse
import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
TABLE_ONE_STEPS = 1000 + 10_000 * 5


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="vca:5,vca:16,vqa:3,vqa:5")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--minibatch", type=int, default=None, help="Table I's N_b (one update per mini-batch)")
    ap.add_argument("--threads", type=int, default=1, help="TF intra-op threads (CPU)")
    ap.add_argument("--replicas", type=int, default=1, help="MirroredStrategy replicas (logical CPUs when no GPU)")
    ap.add_argument("--symmetry", default="none",
                    help="train the symmetrised p_G: none, kernel, kernel+translations")
    ap.add_argument("--group-score-draws", type=int, default=0,
                    help="images per sample for the score of p_G (0: exact)")
    ap.add_argument("--cell", default="vanilla",
                    help="vanilla, triangle, closing (all three: hand-written backward pass) or gru")
    ap.add_argument("--ordering", default="zigzag", help="zigzag, raster or raster-wrap")
    ap.add_argument("--autodiff", action="store_true",
                    help="TensorFlow's autodiff instead of the hand-written backward pass (vanilla and triangle)")
    ap.add_argument("--sr-shift", type=float, default=None,
                    help="stochastic reconfiguration with this diagonal shift (plain SGD along its direction); with "
                         "--autodiff its per-sample scores come from the tiled autodiff pass, else the hand-written "
                         "one")
    args = ap.parse_args()

    from nm_tf.runtime import configure_threads

    configure_threads(intra=args.threads)
    import keras
    import tensorflow as tf

    from nm_tf.annealing.setup import make_strategy
    from nm_tf.annealing.losses import make_train_step
    from nm_tf.models import NewmanMooreRNN
    from nm_tf.models.symmetry import SymmetryGroup
    from nm_tf.timing import median_ms, timed

    strategy = make_strategy(args.replicas)
    device = ", ".join(d.name for d in tf.config.list_logical_devices())
    print(f"N_s={args.samples}, N_b={args.minibatch}, d_h=40, XLA, device {device}, {os.cpu_count()} cores, "
          f"intra-op threads {args.threads}, replicas {args.replicas}, symmetry {args.symmetry}, cell {args.cell}, "
          f"ordering {args.ordering}, {'autodiff' if args.autodiff else 'hand-written backward pass'}"
          + (f", SR (shift {args.sr_shift:g})" if args.sr_shift is not None else ", Adam"))
    print("\n| mode | L | flips per sample | ms / step | compile (s) | Table I protocol (51 000 steps) |")
    print("|---|---|---|---|---|---|")
    for case in args.cases.split(","):
        mode, L, *k = case.split(":")
        L, k = int(L), int(k[0]) if k else 0
        scope = strategy.scope() if strategy else contextlib.nullcontext()
        with scope:
            model = NewmanMooreRNN(L, seed=0, jit_compile=strategy is None, cell=args.cell, ordering=args.ordering,
                                   manual_backprop=not args.autodiff)
            group = SymmetryGroup(L, args.symmetry) if args.symmetry != "none" else None
            optimizer = keras.optimizers.Adam(1e-4) if args.sr_shift is None else keras.optimizers.SGD(0.1)
            step = make_train_step(model, optimizer, args.samples, quantum=mode == "vqa", sr_shift=args.sr_shift,
                                   minibatch=args.minibatch, strategy=strategy, jit_compile=strategy is None,
                                   group=group, group_score_draws=args.group_score_draws, flip_samples=k)
        T, g = (tf.constant(1.0), tf.constant(0.0)) if mode == "vca" else (tf.constant(0.0), tf.constant(1.0))
        _, compile_s = timed(lambda: step(tf.constant([0, 0], tf.int64), T, g)["loss"].numpy())
        ms = median_ms(lambda r: step(tf.constant([0, r + 1], tf.int64), T, g)["loss"].numpy(), args.repeats)
        hours = ms * TABLE_ONE_STEPS / 3.6e6
        flips = "—" if mode == "vca" else (f"{k} sampled" if k else f"all {L * L}")
        print(f"| {mode.upper()} | {L} | {flips} | {ms:.1f} | {compile_s:.1f} | {hours:.2f} h |", flush=True)


if __name__ == "__main__":
    main()
