"""``nm-tf landscape``: scan the loss landscape around a run's weights (Algorithm 2)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from ..annealing.config import NORMALIZATIONS
from ..errors import UsageError

__all__ = ["add_parser"]


def add_parser(sub):
    p = sub.add_parser("landscape", help="loss landscape on a random plane (or the trajectory's PCA plane) "
                                         "around a run's weights")
    p.add_argument("--workdir", required=True, help="run directory (from nm-tf anneal)")
    p.add_argument("--checkpoint", type=int, default=None,
                   help="training step of a kept checkpoint (default: the final weights, else the latest)")
    p.add_argument("--trajectory-step", type=int, default=None, metavar="STEP",
                   help="centre the scan on the weights kept along the anneal at training step STEP "
                        "(--trajectory-every / --trajectory-dense), at that point's T and Gamma")
    p.add_argument("--window", default=None, metavar="LOW:HIGH",
                   help="--plane pca: the principal components of the kept points whose T (vca) or Gamma (vqa) is "
                        "in [LOW, HIGH] only (e.g. a window of the anneal), instead of the whole path")
    p.add_argument("--tag", default=None, help="snapshot name for the output files (default: ckpt<step>)")
    p.add_argument("--points", type=int, default=200, help="grid points per axis (default 200, Table I)")
    p.add_argument("--plane", choices=("random", "pca"), default="random",
                   help="random: N(0, 1) directions drawn with --seed (Eq. 8, the paper's); pca: PC1 and PC2 of the "
                        "weights kept along the anneal (--trajectory-every) relative to the centre, with the path "
                        "drawn on the map")
    p.add_argument("--span", type=float, default=None,
                   help="alpha, beta in [-span, span] (default 1; pca: 1.2 x the path's largest coordinate)")
    p.add_argument("--samples", type=int, default=None, help="N_s per point (default: the run's samples)")
    p.add_argument("--seed", type=int, default=0, help="seed of the directions and the sampling")
    p.add_argument("--crn", action="store_true", help="common random numbers: the same seed at every point")
    p.add_argument("--repeats", type=int, default=1, help="independent evaluations per point")
    p.add_argument("--normalization", default="none", choices=NORMALIZATIONS,
                   help="direction normalisation: none (the paper's N(0, 1) entries), filter or layer")
    p.add_argument("--orthogonalize", action="store_true", help="make eta orthogonal to delta")
    p.add_argument("--exact", action="store_true", help="exact loss by enumerating 2^N states (N <= 16)")
    p.add_argument("--temperature", type=float, default=None, help="T of the loss (default: the schedule's)")
    p.add_argument("--gamma", type=float, default=None, help="Gamma of the loss (default: the schedule's)")
    p.add_argument("--chunk", type=int, default=None, help="grid points per compiled call")
    p.add_argument("--threads", type=int, default=None, help="TensorFlow intra-op threads (default: all cores)")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: this process (default); ray: the grid's chunks as Ray tasks, one merged file")
    p.add_argument("--address", default=None, help="Ray cluster address (ray backend); default: start a local Ray")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="CPUs of a local Ray (ray backend)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write the scan's files into DIR instead of RUN/landscape/ (e.g. a run you cannot write to; "
                        "no TensorBoard images then)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--json", action="store_true", help="print one JSON object (files, loss range) instead of text")
    p.set_defaults(func=_run, checks_before_tensorflow=True)


def _check_field(name, value):
    if value is not None and (not math.isfinite(value) or value < 0):
        raise UsageError(f"--{name} must be a finite number >= 0, got {value}")


def _run(args) -> int:
    from ..annealing.rundir import RunDir
    from ..annealing.restore import check_checkpoint
    from ..annealing.schedule import temperature_and_field
    from ..landscape.scan import EXACT_MAX_SITES, LandscapeSpec
    from ..landscape.snapshots import snapshot_path

    cfg = RunDir(args.workdir).config()          # fails early on a missing run
    if args.tag is not None:
        RunDir(args.workdir).landscape_file(args.tag)     # a bad tag: one line before TensorFlow starts
    if args.threads is not None and not 1 <= args.threads <= 256:
        raise UsageError(f"--threads must be 1..256, got {args.threads}")
    _check_field("temperature", args.temperature)
    _check_field("gamma", args.gamma)
    samples = cfg.samples if args.samples is None else args.samples
    if args.plane == "pca" and (args.normalization != "none" or args.orthogonalize):
        raise UsageError("--plane pca uses the trajectory's principal components as they are (orthonormal): "
                         "--normalization and --orthogonalize apply to the random plane only")
    if args.window is not None and args.plane != "pca":
        raise UsageError("--window chooses the path of a PCA plane: it needs --plane pca")
    point = None
    if args.trajectory_step is not None:
        if args.checkpoint is not None:
            raise UsageError("--trajectory-step and --checkpoint both choose the centre: give one")
        from ..landscape.trajectory import trajectory_point

        point = trajectory_point(args.workdir, args.trajectory_step)     # before TensorFlow starts
    trajectory = None
    if args.plane == "pca":
        from ..landscape.trajectory import in_window, load_trajectory
        from .args import parse_window

        trajectory = load_trajectory(args.workdir)       # before TensorFlow starts: fails early
        if args.window is not None:
            window = parse_window(args.window)
            trajectory = in_window(trajectory, window, quantum=cfg.mode == "vqa")
            if len(trajectory[0]) < 3:
                raise UsageError(f"{len(trajectory[0])} kept points have {'Gamma' if cfg.mode == 'vqa' else 'T'} "
                                 f"in [{window[0]:g}, {window[1]:g}]; a PCA plane needs at least 3")
    spec = LandscapeSpec(points=args.points, span=1.0 if args.span is None else args.span, samples=samples,
                         seed=args.seed, crn=args.crn, repeats=args.repeats, normalization=args.normalization,
                         orthogonalize=args.orthogonalize, exact=args.exact, chunk=args.chunk)
    if spec.exact and cfg.L * cfg.L > EXACT_MAX_SITES:
        raise UsageError(f"--exact enumerates 2^N states; N = {cfg.L * cfg.L} > {EXACT_MAX_SITES} is too large")
    if args.checkpoint is not None:
        check_checkpoint(args.workdir, args.checkpoint)     # before TensorFlow starts
    executor = None
    if args.backend == "ray":
        if args.jobs < 1:
            raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
        from ..landscape.distributed import RayExecutor

        executor = RayExecutor(jobs=args.jobs, address=args.address)
    elif args.address:
        raise UsageError("--address needs --backend ray")
    from . import start_tensorflow
    from ..runtime import configure_threads

    start_tensorflow(args)
    configure_threads(intra=args.threads or os.cpu_count() or 1)
    from ..annealing.restore import restore_model
    from ..landscape.snapshots import compute_snapshot

    model, cfg, step = restore_model(args.workdir, args.checkpoint, jit_compile=False)
    if point is not None:               # the kept point's own weights, step, T and Gamma
        model.rnn_cell.assign_weight_dict(point[2])
        step = args.trajectory_step
    where = f"traj{step}" if point is not None else f"ckpt{step}"
    tag = args.tag or (f"pca_{where}" if trajectory else where)
    out = snapshot_path(args.workdir, tag)
    if args.out is not None:
        out = Path(args.out) / out.name
    if out.exists():
        raise FileExistsError(f"{out} exists; pass another --tag or delete it")
    T, gamma = point[:2] if point is not None else temperature_and_field(cfg, max(step - 1, 0))
    T = T if args.temperature is None else args.temperature
    gamma = gamma if args.gamma is None else args.gamma
    import numpy as np

    directions, meta = None, None
    if trajectory:
        import dataclasses

        from ..landscape.trajectory import pca_plane

        steps, _, _, path = trajectory
        center = {k: v.numpy().astype(np.float64) for k, v in model.rnn_cell.weight_dict().items()}
        delta, eta, coords, explained = pca_plane(center, path)
        directions = (delta, eta)
        meta = {"plane": "pca", "trajectory_alpha": coords[:, 0], "trajectory_beta": coords[:, 1],
                "trajectory_steps": steps, "explained_variance": explained}
        if args.span is None:
            spec = dataclasses.replace(spec, span=float(1.2 * np.abs(coords).max()) or 1.0)
    compute_snapshot(model, cfg, spec, T=T, gamma=gamma, workdir=args.workdir, tag=tag, step=step,
                     executor=executor, directions=directions, meta=meta, out_dir=args.out)

    data = np.load(out)
    loss = data["loss"]
    from ..landscape.plots import figure_paths

    pngs = [str(f) for f in figure_paths(out.with_suffix(""))]
    result = {"file": str(out), "figures": pngs, "tag": tag, "step": step, "mode": cfg.mode, "T": T, "gamma": gamma,
              "plane": args.plane, "span": float(data["span"]),
              **({"explained_variance": [float(v) for v in data["explained_variance"]]} if trajectory else {}),
              "center_loss": float(data["center_loss"]), "min_loss": float(np.nanmin(loss)),
              "max_loss": float(np.nanmax(loss)), "nonfinite_points": int(data["nonfinite_points"])}
    if args.json:
        print(json.dumps(result))
    else:
        what = "F/N" if cfg.mode == "vca" else "E/N"
        at = f"T = {T:g}" if cfg.mode == "vca" else f"Gamma = {gamma:g}"
        print(f"{what} at step {step} ({at}) on a {args.points} x {args.points} {args.plane} plane of span "
              f"{result['span']:.3g}: {result['min_loss']:+.5g} .. {result['max_loss']:+.5g} (centre "
              f"{result['center_loss']:+.5g})" + (f"; {result['nonfinite_points']} points overflowed"
                                                  if result["nonfinite_points"] else ""))
        if trajectory:
            ev = result["explained_variance"]
            print(f"PC1 and PC2 hold {100 * ev[0]:.1f} % and {100 * ev[1]:.1f} % of the path's variance")
        print(f"wrote {out}, {pngs[0]}, {pngs[1]}")
    return 0
