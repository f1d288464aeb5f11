"""``nm-tf export``."""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("export", help="export a run as a SavedModel for TF-Serving")
    p.add_argument("--workdir", required=True, help="run directory (nm-tf anneal --workdir)")
    p.add_argument("--model-dir", required=True, help="TF-Serving base directory")
    p.add_argument("--name", required=True, help="model name (a subdirectory of --model-dir)")
    p.add_argument("--version", type=int, default=None,
                   help="version number, 1..2^63-1 (TF-Serving's int64; default: next free)")
    p.add_argument("--no-xla", dest="xla", action="store_false",
                   help="export the plain graph sampler (default: XLA-compiled in fixed batch buckets; real "
                        "TF-Serving then needs --xla_cpu_compilation_enabled=true)")
    p.add_argument("--symmetry", choices=("none", "kernel", "kernel+translations"), default=None,
                   help="serve the symmetrised p_G(s) = mean_g p(g s) over ker A (every ground state, uniformly, "
                        "from a collapsed model), optionally times the L^2 translations; the metadata says so "
                        "(default: the symmetry the run was trained with, usually none)")
    p.add_argument("--allow-unfinished", action="store_true",
                   help="export a run that has not finished, from its latest checkpoint (nm_tf.json records the "
                        "step and finished: false)")
    p.add_argument("--json", action="store_true", help="print one JSON object (path, name, version, metadata)")
    p.set_defaults(func=_run, checks_before_tensorflow=True)


def _run(args) -> int:
    import json

    from . import start_tensorflow
    from ..export import check_export

    check_export(args.workdir, args.name, args.version, args.allow_unfinished)
    start_tensorflow(args)
    from ..export import export_metadata
    from ..export.savedmodel import export_run

    path = export_run(args.workdir, args.model_dir, args.name, args.version, xla=args.xla, symmetry=args.symmetry,
                      allow_unfinished=args.allow_unfinished)
    meta = export_metadata(path)
    if args.json:
        print(json.dumps({"path": str(path), "name": args.name, "version": int(path.name), **meta}))
        return 0
    print(f"exported {args.workdir} as model {args.name!r} version {path.name}: {path}\n"
          f"  sampler: {'XLA-compiled in fixed batch buckets' if args.xla else 'graph'}; symmetry "
          f"{meta.get('symmetry', 'none')}; serve it with: nm-tf serve --model-dir {args.model_dir}")
    return 0
