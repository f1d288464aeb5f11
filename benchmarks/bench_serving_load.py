"""Load on the embedded server: concurrent REST and gRPC requests on loopback, bounded.

    python benchmarks/bench_serving_load.py [--L 4] [--requests 1000] [--concurrency 200] [--samples 100]

Exports an untrained model, starts `nm-tf serve` in its own process on free loopback ports, sends
``--requests`` `sample` requests per protocol from ``--concurrency`` threads (REST: a new connection
per request; gRPC: one channel), and prints failures (by kind), p50/p99 latency, throughput and the
server's resident memory (now and peak). Exits 1 if any request failed.
"""

import argparse
import collections
import concurrent.futures as cf
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> tuple:
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def run_load(call, requests: int, concurrency: int):
    lat, errors = [], collections.Counter()

    def one(i):
        t = time.perf_counter()
        try:
            call(i)
            return time.perf_counter() - t, None
        except Exception as exc:  # noqa: BLE001 - counted by kind
            code = getattr(exc, "code", None)
            if callable(code):                       # gRPC: the status code names the kind
                return None, code().name
            return None, type(exc).__name__ + ": " + str(exc).splitlines()[0][:80]

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(max_workers=concurrency) as pool:
        for dt, err in pool.map(one, range(requests)):
            if err:
                errors[err] += 1
            else:
                lat.append(dt * 1e3)
    wall = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [float("nan")] * 99
    return {"failures": sum(errors.values()), "errors": dict(errors), "p50_ms": statistics.median(lat) if lat else None,
            "p99_ms": q[98], "throughput_rps": len(lat) / wall}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--L", type=int, default=4)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--max-samples", type=int, default=100_000)
    ap.add_argument("--protocols", default="rest,grpc")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import grpc
    import numpy as np
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    from nm_tf.export import export_model
    from nm_tf.models import NewmanMooreRNN

    out = {"L": args.L, "requests": args.requests, "concurrency": args.concurrency, "samples": args.samples}
    with tempfile.TemporaryDirectory() as tmp:
        export_model(NewmanMooreRNN(args.L, seed=0), os.path.join(tmp, "nm", "1"))
        gport, rport = free_port(), free_port()
        server = subprocess.Popen([sys.executable, "-m", "nm_tf", "serve", "--model-dir", tmp, "--grpc-port",
                                   str(gport), "--rest-port", str(rport), "--max-samples", str(args.max_samples)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{rport}"
            deadline = time.time() + 300
            while True:
                try:
                    urllib.request.urlopen(url + "/v1/models/nm", timeout=2).read()
                    break
                except (urllib.error.URLError, ConnectionError, OSError):
                    if time.time() > deadline or server.poll() is not None:
                        raise SystemExit("the server did not start")
                    time.sleep(0.3)
            out["server_rss_start_mb"] = round(rss_mb(server.pid)[0])
            body = json.dumps({"signature_name": "sample", "inputs": {"num_samples": args.samples,
                                                                      "seed": [0, 0]}}).encode()

            def rest(i):
                req = urllib.request.Request(url + "/v1/models/nm:predict", data=body)
                with urllib.request.urlopen(req, timeout=120) as r:
                    r.read()

            channel = grpc.insecure_channel(f"127.0.0.1:{gport}",
                                            options=[("grpc.max_receive_message_length", 512 << 20)])
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

            def grpc_call(i):
                req = predict_pb2.PredictRequest()
                req.model_spec.name, req.model_spec.signature_name = "nm", "sample"
                req.inputs["num_samples"].CopyFrom(tf.make_tensor_proto(np.int32(args.samples)))
                req.inputs["seed"].CopyFrom(tf.make_tensor_proto(np.array([0, i], np.int64)))
                stub.Predict(req, timeout=120)

            for proto in args.protocols.split(","):
                out[proto] = run_load(rest if proto == "rest" else grpc_call, args.requests, args.concurrency)
            out["server_rss_end_mb"], out["server_rss_peak_mb"] = (round(x) for x in rss_mb(server.pid))
        finally:
            server.terminate()
            server.wait(timeout=30)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"L={args.L}, {args.requests} requests x {args.samples} samples at {args.concurrency} concurrent, "
              f"{os.cpu_count()} cores; server RSS start {out['server_rss_start_mb']} MB, end "
              f"{out['server_rss_end_mb']} MB, peak {out['server_rss_peak_mb']} MB")
        print("\n| protocol | failures | p50 (ms) | p99 (ms) | requests/s | errors |\n|---|---|---|---|---|---|")
        for proto in args.protocols.split(","):
            r = out[proto]
            ms = lambda v: "-" if v is None or v != v else f"{v:.0f}"  # noqa: E731 - no successes: no latency
            print(f"| {proto} | {r['failures']} | {ms(r['p50_ms'])} | {ms(r['p99_ms'])} | {r['throughput_rps']:.1f} | "
                  f"{r['errors'] or ''} |")
    return 1 if any(out[p]["failures"] for p in args.protocols.split(",")) else 0


if __name__ == "__main__":
    sys.exit(main())
