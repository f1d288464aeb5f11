"""``nm-tf modes``: ground-state coverage, KL to uniform, Hamming histogram, PCA (Fig. 6)."""

from __future__ import annotations

import json
from ..errors import UsageError
from ..modes.report import run_modes

__all__ = ["add_parser"]

JSON_KEYS = ("n_samples", "ground_state_fraction", "distinct_ground_states", "degeneracy", "coverage",
             "kl_to_uniform", "hamming_histogram", "effective_ground_states", "min_ground_state_probability",
             "uniformity_p_value", "symmetry")


def add_parser(sub):
    p = sub.add_parser("modes", help="mode-collapse analysis of a run, a SavedModel or a served model")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--workdir", help="run directory (figures are written into it)")
    src.add_argument("--savedmodel", help="an exported version directory MODELS/NAME/VERSION")
    src.add_argument("--target", help="gRPC host:port of a server")
    src.add_argument("--url", help="REST base URL of a server")
    p.add_argument("--model", help="served model name (with --target/--url)")
    p.add_argument("--checkpoint", type=int, default=None, help="run checkpoint to sample (with --workdir)")
    p.add_argument("--samples", type=int, default=100_000, help="number of samples (default 100000)")
    p.add_argument("--seed", type=int, default=None,
                   help="sampling seed (default: a run's stored final samples, else 0)")
    p.add_argument("--out", default=None, help="folder for the figures and modes.json (default: the run; for a "
                                               "SavedModel ./modes-NAME-vVERSION, for a server ./modes-MODEL-served)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--symmetry", choices=("none", "kernel", "kernel+translations"), default="none",
                   help="(--workdir) sample the symmetrised p_G(s) = mean_g p(g s): g uniform in ker A "
                        "(XOR with kernel words, an exact symmetry), optionally times the L^2 translations")
    p.set_defaults(func=_run, checks_before_tensorflow=True)


MAX_MODES_SAMPLES = 10_000_000


def _run(args) -> int:
    if not 1 <= args.samples <= MAX_MODES_SAMPLES:
        raise UsageError(f"--samples must be 1..{MAX_MODES_SAMPLES} (the samples are held in memory with their "
                         f"PCA), got {args.samples}")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if (args.target or args.url) and not args.model:
        raise UsageError("--model NAME is required with --target/--url")
    if args.symmetry != "none" and not args.workdir:
        raise UsageError("--symmetry applies to --workdir; a SavedModel or server samples what it was exported with "
                         "(nm-tf export --symmetry)")
    from . import start_tensorflow

    start_tensorflow(args)
    J = 1.0
    if args.workdir:
        from ..annealing.rundir import RunDir
        from ..modes.sources import samples_from_run

        J = RunDir(args.workdir).config().J
        bits, L, source, log_prob = samples_from_run(args.workdir, args.samples, args.seed, args.checkpoint,
                                                     symmetry=args.symmetry, with_log_prob=True)
        out, symmetry = args.out or args.workdir, args.symmetry
    elif args.savedmodel:
        from ..export import export_metadata
        from ..modes.sources import samples_from_savedmodel

        bits, L, source, log_prob = samples_from_savedmodel(args.savedmodel, args.samples, args.seed or 0,
                                                            with_log_prob=True)
        symmetry = export_metadata(args.savedmodel).get("symmetry", "none")
        from pathlib import Path

        version = Path(args.savedmodel).resolve()
        out = args.out or f"modes-{version.parent.name}-v{version.name}"
    else:
        from ..client import SamplerClient, ServerError
        from ..modes.sources import samples_from_server

        client = SamplerClient(target=args.target, url=args.url)
        try:
            bits, L, source, served_log_prob = samples_from_server(client, args.model, args.samples, args.seed or 0,
                                                                   with_log_prob=True)
            stats = run_modes(bits, L, args.out or f"modes-{args.model}-served", source, J, log_prob=served_log_prob,
                              symmetry=None)
        except ServerError as exc:
            raise UsageError(f"server error: {exc}") from None
        finally:
            client.close()
    if args.workdir or args.savedmodel:
        stats = run_modes(bits, L, out, source, J, log_prob=log_prob, symmetry=symmetry)
    if args.json:
        print(json.dumps({k: stats.get(k) for k in JSON_KEYS}))
        return 0
    kl = stats["kl_to_uniform"]
    kl_text = "none (no ground state sampled)" if kl is None else f"{kl:.4f} nats (0: uniform)"
    print(f"{source}\n{stats['n_samples']} samples, L={L}: ground-state fraction "
          f"{stats['ground_state_fraction']:.4f}, {stats['distinct_ground_states']} of {stats['degeneracy']} "
          f"ground states found (coverage {stats['coverage']:.3f}), KL to uniform {kl_text}")
    hist = stats["hamming_histogram"]
    print("Hamming distance to trivial state: " + ", ".join(f"{d}:{c}" for d, c in enumerate(hist) if c))
    print("figures: " + ", ".join(stats["figures"]))
    return 0
