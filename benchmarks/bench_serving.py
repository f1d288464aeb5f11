"""Served sampling over gRPC and REST (embedded server) against the in-process XLA sampler.

    python benchmarks/bench_serving.py [--sizes 16] [--num-samples 1,100,1000,10000] [--repeats 15] [--export xla,graph]

The model is untrained (weights do not change the cost); it is exported to a temporary
directory (``xla``: XLA-compiled bucket signatures, the default export; ``graph``: ``--no-xla``),
served on ephemeral loopback ports and queried with the ``sample`` signature. "first" is the
latency of the first request of that size after start-up (warm-up done): a compile would show here.
A request of 1 sample (the default list starts with it) shows the fixed cost of a request: its
gRPC time minus the in-process time is the transport and session overhead that every request pays.
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="16")
    ap.add_argument("--num-samples", default="1,100,1000,10000")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--export", default="xla,graph")
    args = ap.parse_args()

    from nm_tf.runtime import configure_threads

    configure_threads(1, 2)
    import tensorflow as tf

    from nm_tf.client import SamplerClient
    from nm_tf.export import export_model
    from nm_tf.models import NewmanMooreRNN
    from nm_tf.server.server import SamplerServer
    from nm_tf.timing import median_ms, timed

    counts = [int(x) for x in args.num_samples.split(",")]
    print(f"d_h=40, device {tf.config.list_logical_devices()[-1].name}, {os.cpu_count()} cores; medians of "
          f"{args.repeats}")
    print("\n| L | export | samples | in-process XLA (ms) | gRPC first (ms) | gRPC (ms) | REST (ms) | gRPC / XLA |"
          " REST / XLA |")
    print("|---|---|---|---|---|---|---|---|---|")
    for L in [int(x) for x in args.sizes.split(",")]:
        xla = NewmanMooreRNN(L, seed=0, jit_compile=True)
        for kind in args.export.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                export_model(xla, os.path.join(tmp, "nm", "1"), xla=kind == "xla")
                with SamplerServer(tmp, grpc_port=0, rest_port=0, quiet=True) as srv:
                    g = SamplerClient(target=srv.grpc_target)
                    rest = SamplerClient(url=srv.rest_url)
                    for b in counts:
                        xla.sample(b, 0)[0].numpy()                      # compile the in-process sampler
                        first = 1e3 * timed(g.sample, "nm", b, 0)[1]
                        t_xla = median_ms(lambda r: xla.sample(b, r + 1)[0].numpy(), args.repeats)
                        t_grpc = median_ms(lambda r: g.sample("nm", b, r + 1), args.repeats)
                        t_rest = median_ms(lambda r: rest.sample("nm", b, r + 1), args.repeats)
                        print(f"| {L} | {kind} | {b} | {t_xla:.1f} | {first:.0f} | {t_grpc:.1f} | {t_rest:.1f} | "
                              f"{t_grpc / t_xla:.2f} | {t_rest / t_xla:.2f} |", flush=True)


if __name__ == "__main__":
    main()
