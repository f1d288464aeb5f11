"""Sampler and VCA training-step speed.

    python benchmarks/bench_sampler.py [--sizes 5,10,16,40] [--samples 100] [--intra 1 --inter 1]
    python benchmarks/bench_sampler.py --sizes 16 --samples 1000 --variants xla,xla-plain --sample-only

Prints ms per call (median of repeats after warm-up) and samples/s for
(a) sampling B configurations and (b) one VCA training step
(sample + log p with gradient + Newman–Moore energy + Adam update).
Variants: ``xla`` / ``graph`` (the training model: the vanilla cell's pass is wrapped for the hand-written
backward pass, which keeps the hidden states), ``xla-plain`` / ``graph-plain`` (built with
``manual_backprop=False``: the plain forward pass, as export uses).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="5,10,16,40")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=40)
    ap.add_argument("--intra", type=int, default=1)
    ap.add_argument("--inter", type=int, default=1)
    ap.add_argument("--variants", default="xla,graph")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--sample-only", action="store_true", help="time sampling only (no training step)")
    args = ap.parse_args()

    from nm_tf.runtime import configure_threads

    configure_threads(args.intra, args.inter)
    import tensorflow as tf

    from nm_tf.annealing.losses import make_vca_step
    from nm_tf.models import NewmanMooreRNN, seed_tensor
    from nm_tf.timing import machine, median_ms, timed

    print(f"machine: {machine()}; "
          f"threads intra={args.intra} inter={args.inter}; B={args.samples}, d_h={args.hidden}")
    print("\n| L | variant | sample (ms) | samples/s | VCA train step (ms) | compile (s) |")
    print("|---|---|---|---|---|---|")
    for L in [int(x) for x in args.sizes.split(",")]:
        for variant in args.variants.split(","):
            jit = variant.startswith("xla")
            model = NewmanMooreRNN(L, hidden=args.hidden, seed=0, jit_compile=jit,
                                   manual_backprop=not variant.endswith("-plain"))
            if args.sample_only:
                _, compile_s = timed(lambda: model.sample(args.samples, 0))
                ms_t = float("nan")
            else:
                opt = tf.keras.optimizers.Adam(1e-4)
                step = make_vca_step(model, opt, args.samples, jit_compile=jit)
                _, compile_s = timed(lambda: (model.sample(args.samples, 0), step(seed_tensor(0), tf.constant(1.0))))
            ms_s = median_ms(lambda r: model.sample(args.samples, r)[1].numpy(), args.repeats)
            if not args.sample_only:
                ms_t = median_ms(lambda r: step(seed_tensor(r), tf.constant(1.0))["loss"].numpy(), args.repeats)
            print(f"| {L} | {variant} | {ms_s:.1f} | {args.samples / ms_s * 1e3:,.0f} | {ms_t:.1f} "
                  f"| {compile_s:.1f} |", flush=True)


if __name__ == "__main__":
    main()
