"""``nm-tf serve``."""

from __future__ import annotations

import argparse
import math
from ..errors import UsageError


def bounded(convert, low, high, what: str):
    """An argparse type: ``convert(text)`` within ``[low, high]`` (finite), else one line naming ``what``."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value
    return parse


port = bounded(int, 0, 65535, "a port, an integer 0..65535 (0: any free port)")
poll_seconds = bounded(float, 0.05, math.inf, "a number of seconds >= 0.05")
positive_int = bounded(int, 1, math.inf, "an integer >= 1")


def add_parser(sub):
    p = sub.add_parser("serve", help="serve exported models over TF-Serving's gRPC and REST APIs",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model-dir", required=True,
                   help="base directory: MODEL_DIR/<name>/<version>/ (version folders may be symlinks, followed "
                        "wherever they point, as TF-Serving does)")
    p.add_argument("--model-config-file", default=None, metavar="FILE",
                   help="TF-Serving model config (text ModelServerConfig, e.g. serving/models.config): the models, "
                        "their version policy (latest N / all / specific) and version_labels; default: every "
                        "child of --model-dir, latest version only, no labels")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    p.add_argument("--grpc-port", type=port, default=8500, help="gRPC port, 0..65535 (0: any free port)")
    p.add_argument("--rest-port", type=port, default=8501, help="REST port, 0..65535 (0: any free port)")
    p.add_argument("--max-samples", type=positive_int, default=100_000,
                   help="largest num_samples, and most rows of any batch input, accepted per request")
    p.add_argument("--max-inflight-samples", type=positive_int, default=None,
                   help="samples being drawn or scored at once over all requests (default 4 x --max-samples); "
                        "beyond it a request waits up to 5 s, then gets RESOURCE_EXHAUSTED / HTTP 503")
    p.add_argument("--poll-seconds", type=poll_seconds, default=1.0,
                   help="seconds between looks for new models and versions (>= 0.05)")
    p.set_defaults(func=_run, checks_before_tensorflow=True)


def _run(args) -> int:
    import importlib.util
    import socket

    from ..server.store import check_model_base

    # Every check that needs no TensorFlow first: a wrong path or host is refused in well under a second.
    if any(importlib.util.find_spec(name) is None for name in ("grpc", "tensorflow_serving")):
        raise UsageError("nm-tf serve needs the serving extra: pip install 'nm-tf[serving]'")
    try:
        check_model_base(args.model_dir)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    try:
        socket.getaddrinfo(args.host, None)
    except OSError:
        raise UsageError(f"--host {args.host!r} does not resolve to an address") from None
    from . import start_tensorflow
    from ..runtime import configure_threads

    start_tensorflow(args)
    configure_threads(1, 2)
    from ..server.server import SamplerServer

    try:
        server = SamplerServer(args.model_dir, host=args.host, grpc_port=args.grpc_port, rest_port=args.rest_port,
                               max_samples=args.max_samples, poll_seconds=args.poll_seconds,
                               max_inflight_samples=args.max_inflight_samples,
                               model_config=args.model_config_file).start()
    except OSError as exc:
        raise UsageError(str(exc)) from None
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
