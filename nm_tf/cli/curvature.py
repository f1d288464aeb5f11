"""``nm-tf curvature``: the extreme Hessian eigenvalues of a run's training loss at a checkpoint."""

from __future__ import annotations

import json

from ..errors import UsageError

__all__ = ["add_parser"]


def add_parser(sub):
    p = sub.add_parser("curvature", help="largest and smallest Hessian eigenvalues of the training loss "
                                         "(Hessian-vector products, Lanczos)")
    p.add_argument("--workdir", required=True, help="run directory")
    p.add_argument("--checkpoint", type=int, default=None,
                   help="training step of a kept checkpoint (default: the final weights, else the latest checkpoint)")
    p.add_argument("--top", type=int, default=5, metavar="K", help="largest eigenvalues to compute")
    p.add_argument("--bottom", type=int, default=5, metavar="K", help="smallest eigenvalues to compute")
    p.add_argument("--samples", type=int, default=1000, metavar="N",
                   help="configurations drawn once from the checkpoint's p (common random numbers: the importance-"
                        "sampling estimate of the loss is one fixed function of the weights)")
    p.add_argument("--seed", type=int, default=0, help="seed of those samples and of Lanczos' start vector")
    p.add_argument("--exact", action="store_true", help="sum over all 2^N configurations instead (N <= 16)")
    p.add_argument("--trajectory", action="store_true",
                   help="at every weight kept along the run (--trajectory-every / --trajectory-dense) instead of one "
                        "checkpoint: rows appended to RUN/trajectory/curvature_trajectory.csv (resumable)")
    p.add_argument("--window", default=None, metavar="LOW:HIGH",
                   help="with --trajectory: only the points whose T (vca) or Gamma (vqa) is in [LOW, HIGH]")
    p.add_argument("--snapshot", default=None, metavar="TAG",
                   help="at the weights of a landscape snapshot of the run (RUN/landscape/weights_TAG.npz, e.g. "
                        "end or mid_annealing) and its T and Gamma, instead of a checkpoint")
    p.add_argument("--heldout", type=int, default=0, metavar="B",
                   help="test the edges on B independent sample sets (seeds SEED+1..SEED+B): the eigenvectors' mean "
                        "Rayleigh quotient there bounds the exact Hessian's edges (JSON key heldout; 2..100)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run, checks_before_tensorflow=True)


def _run(args) -> int:
    from ..annealing.restore import check_checkpoint
    from ..annealing.rundir import RunDir

    cfg = RunDir(args.workdir).config()
    if args.exact and cfg.L * cfg.L > 16:
        raise UsageError(f"--exact enumerates 2^N states; N = {cfg.L * cfg.L} > 16 is too large")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if args.heldout and not 2 <= args.heldout <= 100:
        raise UsageError(f"--heldout must be 2..100 sample sets (or 0: off), got {args.heldout}")
    if args.heldout and args.exact:
        raise UsageError("--heldout tests sampled edges against sampling noise; --exact has none")
    if args.trajectory:
        if args.heldout:
            raise UsageError("--heldout takes one point (--checkpoint or --snapshot), not --trajectory")
        return _along_trajectory(args)
    if args.window is not None:
        raise UsageError("--window selects trajectory points: it needs --trajectory")
    if args.checkpoint is not None:
        check_checkpoint(args.workdir, args.checkpoint)
    snapshot = None
    if args.snapshot is not None:
        if args.checkpoint is not None:
            raise UsageError("--snapshot and --checkpoint both choose the weights: give one")
        path = RunDir(args.workdir).landscape_file(args.snapshot).with_name(f"weights_{args.snapshot}.npz")
        if not path.exists():
            raise UsageError(f"{args.workdir} has no snapshot {args.snapshot!r} ({path.name} is missing); its "
                             f"snapshots are the run's landscape tags (--landscape)")
        import numpy as np

        with np.load(path) as f:
            snapshot = {k: f[k] for k in f.files}
    from . import start_tensorflow

    start_tensorflow(args)
    from ..annealing.restore import restore_model
    from ..annealing.schedule import temperature_and_field
    from ..landscape.curvature import CurvatureProblem, heldout_quotients, hessian_extremes

    model, cfg, step = restore_model(args.workdir, args.checkpoint)
    T, gamma = temperature_and_field(cfg, max(step - 1, 0))
    if snapshot is not None:        # the snapshot's own weights, step, T and Gamma
        model.rnn_cell.assign_weight_dict({k: snapshot[k] for k in model.rnn_cell.weight_dict() if k in snapshot})
        step, T, gamma = int(snapshot["step"]), float(snapshot["T"]), float(snapshot["gamma"])

    def make_problem(seed):
        return CurvatureProblem(model, quantum=cfg.mode == "vqa", T=T, gamma=gamma, J=cfg.J, exact=args.exact,
                                samples=args.samples, seed=seed)

    problem = make_problem(args.seed)
    result = hessian_extremes(problem, top=args.top, bottom=args.bottom, seed=args.seed, vectors=bool(args.heldout))
    heldout = None
    if args.heldout:
        heldout = heldout_quotients(make_problem, result, range(args.seed + 1, args.seed + 1 + args.heldout))
        del result["top_vectors"], result["bottom_vectors"]
    out = {"workdir": str(args.workdir), "step": step, "mode": cfg.mode, "T": T, "gamma": gamma,
           "n_params": problem.n_params, "samples": "exact" if args.exact else problem.samples, **result}
    if heldout is not None:
        out["heldout"] = heldout
    if args.json:
        print(json.dumps(out))
        return 0
    what = "F/N" if cfg.mode == "vca" else "E/N"
    print(f"Hessian of {what} at step {step} (T = {T:g}, Gamma = {gamma:g}), {problem.n_params} parameters, "
          f"{'exact sums' if args.exact else f'{problem.samples} samples (seed {args.seed})'}")
    print(f"  largest:  {', '.join(f'{x:+.4g}' for x in out['top'])}")
    print(f"  smallest: {', '.join(f'{x:+.4g}' for x in out['bottom'])}")
    if out["negative_fraction"] is not None:
        print(f"  negative among these: {out['negative_fraction']:.2f}; largest / smallest magnitude among these: "
              f"{out['condition_ratio']:.3g}")
    if heldout is not None:
        print(f"  on {args.heldout} held-out sample sets (mean +- s.e. of each eigenvector's Rayleigh quotient):")
        for name in ("top", "bottom"):
            print(f"    {name + ':':8s}" + ", ".join(f"{r['mean']:+.4g} +- {r['se']:.2g}" for r in heldout[name]))
        lo, hi = heldout["lambda_max_lower"], heldout["lambda_min_upper"]
        if lo is not None:
            print(f"  exact largest eigenvalue >= {lo:+.4g} (held-out mean - 3 s.e.)")
        if hi is not None:
            verdict = "negative curvature shown" if hi < 0 else "negative curvature not shown"
            print(f"  exact smallest eigenvalue <= {hi:+.4g} (held-out mean + 3 s.e.): {verdict}")
    return 0


def _along_trajectory(args) -> int:
    if args.checkpoint is not None:
        raise UsageError("--trajectory takes every kept point; drop --checkpoint")
    from .args import parse_window

    window = None if args.window is None else parse_window(args.window)
    from ..landscape.trajectory import load_trajectory

    load_trajectory(args.workdir)          # no trajectory: one line before TensorFlow starts
    from . import start_tensorflow

    start_tensorflow(args)
    from ..landscape.curvature import curvature_along_trajectory

    def progress(done, total, row):
        if not args.json:
            edge = row[5:5 + args.top + args.bottom]
            print(f"[{done}/{total}] step {row[0]} T={row[1]:g} Gamma={row[2]:g}: eigenvalues "
                  f"{', '.join(f'{x:+.4g}' for x in edge)}", flush=True)

    out = curvature_along_trajectory(args.workdir, top=args.top, bottom=args.bottom, samples=args.samples,
                                     seed=args.seed, exact=args.exact, window=window, progress=progress)
    if args.json:
        print(json.dumps({"workdir": str(args.workdir), "file": str(out)}))
    else:
        print(f"wrote {out}")
    return 0
