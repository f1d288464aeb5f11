"""``nm-tf sample``: ask a served model for samples and Hamming-distance statistics."""

from __future__ import annotations

import json

from ..client import SamplerClient, ServerError, check_address, format_stats
from ..errors import UsageError

__all__ = ["add_parser"]


def add_parser(sub):
    p = sub.add_parser("sample", help="ask a served model for samples and Hamming-distance statistics")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--target", help="gRPC host:port, e.g. 127.0.0.1:8500")
    g.add_argument("--url", help="REST base URL, e.g. http://127.0.0.1:8501")
    p.add_argument("--model", required=True)
    p.add_argument("--version", type=int, default=None)
    p.add_argument("--num-samples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run, checks_before_tensorflow=True)


def _run(args) -> int:
    if not 1 <= args.num_samples <= 10_000_000:
        raise UsageError(f"--num-samples must be 1..10000000, got {args.num_samples}")

    check_address(args.target, args.url)
    if args.target:             # gRPC's messages are TensorFlow protos; REST needs no TensorFlow at all
        from . import start_tensorflow

        start_tensorflow(args)
    client = SamplerClient(target=args.target, url=args.url)
    try:
        stats = client.hamming_stats(args.model, args.num_samples, args.seed, args.version)
    except ServerError as exc:
        raise UsageError(f"server error: {exc}") from None
    finally:
        client.close()
    keys = ("n_samples", "ground_state_fraction", "distinct_ground_states", "mean_hamming", "hamming_histogram")
    print(json.dumps({k: stats[k] for k in keys}) if args.json else format_stats(stats))
    return 0
