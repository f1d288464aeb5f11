"""Latency of 1000 samples over gRPC and REST (embedded server) vs the in-process sampler.

    python benchmarks/bench_serving.py [--sizes 5,16] [--num-samples 1000] [--repeats 15]

The model is untrained (weights do not change the cost); it is exported to a temporary
directory, served on ephemeral loopback ports, and queried with the `sample` signature.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def median_ms(fn, repeats):
    fn(0)
    out = []
    for r in range(repeats):
        t = time.perf_counter()
        fn(r + 1)
        out.append((time.perf_counter() - t) * 1e3)
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="5,16")
    ap.add_argument("--num-samples", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()

    from nm_tf.runtime import configure_threads

    configure_threads(1, 2)
    from nm_tf.client import SamplerClient
    from nm_tf.export import export_model
    from nm_tf.models import NewmanMooreRNN
    from nm_tf.server.server import SamplerServer

    b = args.num_samples
    print(f"B={b}, d_h=40, {os.cpu_count()} cores; medians of {args.repeats}")
    print("\n| L | in-process graph (ms) | in-process XLA (ms) | gRPC (ms) | REST (ms) | gRPC / graph | REST / graph |")
    print("|---|---|---|---|---|---|---|")
    for L in [int(x) for x in args.sizes.split(",")]:
        graph = NewmanMooreRNN(L, seed=0, jit_compile=False)
        xla = NewmanMooreRNN(L, seed=0, jit_compile=True)
        t_graph = median_ms(lambda r: graph.sample(b, r)[0].numpy(), args.repeats)
        t_xla = median_ms(lambda r: xla.sample(b, r)[0].numpy(), args.repeats)
        with tempfile.TemporaryDirectory() as tmp:
            export_model(graph, os.path.join(tmp, "nm", "1"))
            with SamplerServer(tmp, grpc_port=0, rest_port=0, quiet=True) as srv:
                g = SamplerClient(target=srv.grpc_target)
                rest = SamplerClient(url=srv.rest_url)
                t_grpc = median_ms(lambda r: g.sample("nm", b, r), args.repeats)
                t_rest = median_ms(lambda r: rest.sample("nm", b, r), args.repeats)
        print(f"| {L} | {t_graph:.1f} | {t_xla:.1f} | {t_grpc:.1f} | {t_rest:.1f} | "
              f"{t_grpc / t_graph:.2f} | {t_rest / t_graph:.2f} |", flush=True)


if __name__ == "__main__":
    main()
