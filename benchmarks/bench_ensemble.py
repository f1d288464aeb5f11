"""Many seeds in one compiled step: ms per training step of an ensemble of K networks against one network.

    python benchmarks/bench_ensemble.py --L 16 --ensembles 1,2,4,8 [--mode vca|vqa] [--minibatch 10]
        [--flip-samples K] [--sr-shift EPS] [--json]

Prints (or, with --json, one JSON list of) ``{"ensemble": K, "ms_per_step": t, "ms_per_member_step": t / K, ...}``
and the single network's own step (hand-written backward pass) for reference, measured in the same process.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--L", type=int, default=16)
    ap.add_argument("--ensembles", default="1,2,4,8")
    ap.add_argument("--mode", choices=("vca", "vqa"), default="vca")
    ap.add_argument("--minibatch", type=int, default=None)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--flip-samples", type=int, default=0, help="VQA: sampled flips per sample (0: all N)")
    ap.add_argument("--sr-shift", type=float, default=None,
                    help="stochastic reconfiguration with this shift (SGD, as --optimizer sr) instead of Adam")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from nm_tf.runtime import configure_threads

    configure_threads(intra=args.threads)
    import tensorflow as tf

    from nm_tf.annealing.ensemble import EnsembleStep, stack_weights
    from nm_tf.annealing.losses import StepSpec, make_train_step
    from nm_tf.models import NewmanMooreRNN
    from nm_tf.timing import machine, median_ms, timed

    quantum = args.mode == "vqa"
    spec = StepSpec(num_samples=args.samples, quantum=quantum, minibatch=args.minibatch,
                    flip_samples=args.flip_samples if quantum else 0, sr_shift=args.sr_shift)
    optimizer = tf.keras.optimizers.SGD if args.sr_shift else tf.keras.optimizers.Adam
    T, g = (1.0, 0.0) if not quantum else (0.0, 1.0)
    rows = []
    single = NewmanMooreRNN(args.L, seed=0)
    step = make_train_step(single, optimizer(1e-4), spec)
    seed = lambda r: tf.constant([0, r], tf.int64)  # noqa: E731
    _, compile_s = timed(lambda: step(seed(0), tf.constant(T), tf.constant(g))["loss"].numpy())
    ms = median_ms(lambda r: step(seed(r + 1), tf.constant(T), tf.constant(g))["loss"].numpy(), args.repeats)
    rows.append({"ensemble": "single network (hand-written backward pass)", "ms_per_step": round(ms, 2),
                 "ms_per_member_step": round(ms, 2), "compile_s": round(compile_s, 1)})
    for K in [int(k) for k in args.ensembles.split(",")]:
        members = [NewmanMooreRNN(args.L, seed=k) for k in range(K)]
        ens = EnsembleStep(members[0], range(K), spec, stack_weights(members), 1e-4)
        _, compile_s = timed(lambda: ens(0, T, g))
        ms = median_ms(lambda r: ens(r + 1, T, g), args.repeats)
        rows.append({"ensemble": K, "ms_per_step": round(ms, 2), "ms_per_member_step": round(ms / K, 2),
                     "compile_s": round(compile_s, 1)})
    if args.json:
        print(json.dumps(rows))
        return
    print(f"machine: {machine()}; {args.mode.upper()} L = {args.L}, N_s = {args.samples}, N_b = {args.minibatch}, "
          f"{'SR shift ' + str(args.sr_shift) if args.sr_shift else 'Adam'}, intra-op threads {args.threads}")
    print("\n| K | ms / step | ms / member step | compile (s) |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['ensemble']} | {r['ms_per_step']} | {r['ms_per_member_step']} | {r['compile_s']} |")


if __name__ == "__main__":
    main()
