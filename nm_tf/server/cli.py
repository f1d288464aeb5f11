"""``nm-tf serve``."""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("serve", help="serve exported models over TF-Serving's gRPC and REST APIs")
    p.add_argument("--model-dir", required=True, help="base directory: MODEL_DIR/<name>/<version>/")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    p.add_argument("--grpc-port", type=int, default=8500)
    p.add_argument("--rest-port", type=int, default=8501)
    p.add_argument("--max-samples", type=int, default=100_000, help="largest num_samples accepted")
    p.add_argument("--poll-seconds", type=float, default=1.0, help="how often to look for new versions")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ..runtime import configure_threads

    try:
        import grpc  # noqa: F401
        import tensorflow_serving  # noqa: F401
    except ImportError:
        raise ValueError("nm-tf serve needs the serving extra: pip install 'nm-tf[serving]'") from None
    if args.max_samples < 1:
        raise ValueError("--max-samples must be >= 1")
    configure_threads(1, 2)
    from .server import SamplerServer

    server = SamplerServer(args.model_dir, host=args.host, grpc_port=args.grpc_port, rest_port=args.rest_port,
                           max_samples=args.max_samples, poll_seconds=args.poll_seconds).start()
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
