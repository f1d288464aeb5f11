"""Load on the embedded server: concurrent REST and gRPC requests on loopback, bounded.

    python benchmarks/bench_serving_load.py [--L 4] [--requests 1000] [--concurrency 200] [--samples 100]
                                            [--slow-sockets 200]

Exports an untrained model, starts `nm-tf serve` in its own process on free loopback ports, sends
``--requests`` `sample` requests per protocol from ``--concurrency`` threads (REST: a new connection
per request; gRPC: one channel), and prints failures (by kind), p50/p99 latency, throughput and the
server's resident memory (now and peak). Exits 1 if any request failed.

``--slow-sockets N`` keeps N extra connections to the REST port open during the load, each trickling a
request line one byte every half second (an attacker holding connections; the server closes each after its
request timeout and the benchmark opens a new one, so N stay open).
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


class SlowSockets:
    """N connections that each send a never-ending request line, a byte at a time, kept at N."""

    def __init__(self, port: int, n: int):
        import threading

        self.port, self.n, self.reopened = port, n, 0
        self.socks = [self._open() for _ in range(n)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _open(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(b"GET /v1/models/nm")
        return s

    def _trickle(self):
        while not self._stop.wait(0.5):
            for k, s in enumerate(self.socks):
                try:
                    s.sendall(b"x")
                except OSError:
                    s.close()
                    self.socks[k] = self._open()
                    self.reopened += 1

    def close(self):
        self._stop.set()
        self._thread.join(5)
        for s in self.socks:
            s.close()


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
    ap.add_argument("--slow-sockets", type=int, default=0, help="extra REST connections trickling a request line")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import grpc
    import numpy as np
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    from nm_tf.export import export_model
    from nm_tf.models import NewmanMooreRNN

    out = {"L": args.L, "requests": args.requests, "concurrency": args.concurrency, "samples": args.samples,
           "slow_sockets": args.slow_sockets}
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

            slow = SlowSockets(rport, args.slow_sockets) if args.slow_sockets else None
            try:
                for proto in args.protocols.split(","):
                    out[proto] = run_load(rest if proto == "rest" else grpc_call, args.requests, args.concurrency)
            finally:
                if slow is not None:
                    out["slow_sockets_reopened"] = slow.reopened
                    slow.close()
            out["server_rss_end_mb"], out["server_rss_peak_mb"] = (round(x) for x in rss_mb(server.pid))
        finally:
            server.terminate()
            server.wait(timeout=30)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"L={args.L}, {args.requests} requests x {args.samples} samples at {args.concurrency} concurrent, "
              f"{args.slow_sockets} slow sockets open, "
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
