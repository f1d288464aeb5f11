"""``nm-tf anneal``: every AnnealConfig field is a flag (``--annealing-steps`` etc.)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging

from ..annealing.config import FIELD_CHOICES, FIELD_GROUPS, FIELD_HELP, FIELD_METAVARS, AnnealConfig, load_config_file

__all__ = ["add_parser", "config_from_args", "parse_schedule_points"]

_SKIP = {"landscape"}           # --landscape has its own parser (tags or 'paper')


def parse_schedule_points(text: str) -> tuple:
    """argparse type: ``"0:1,0.5:0.3,1:0"`` -> ``((0, 1), (0.5, 0.3), (1, 0))`` (the config checks the shape)."""
    try:
        points = tuple(tuple(float(v) for v in item.split(":")) for item in text.split(",") if item.strip())
    except ValueError:
        points = ()
    if not points or any(len(p) != 2 for p in points):
        raise argparse.ArgumentTypeError(f"expected t:fraction pairs separated by commas, e.g. 0:1,0.5:0.3,1:0; "
                                         f"got {text!r}")
    return points


def strict_bool(text: str) -> bool:
    """argparse type: true/false (also 1/0, yes/no, on/off); anything else is an error."""
    value = {"1": True, "true": True, "yes": True, "on": True,
             "0": False, "false": False, "no": False, "off": False}.get(str(text).strip().lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _type_of(field):
    hint = field.type if not isinstance(field.type, str) else field.type
    text = str(hint)
    if text.startswith("bool") or field.default is True or field.default is False:
        return "bool"
    if "int" in text and "float" not in text:
        return int
    if "float" in text:
        return float
    return str


def add_parser(sub):
    p = sub.add_parser("anneal", help="run variational classical/quantum annealing (Algorithm 1)")
    p.add_argument("--workdir", required=True, help="run directory")
    p.add_argument("--config", help="JSON or YAML file of AnnealConfig fields")
    p.add_argument("--resume", action="store_true", help="continue the run in --workdir from its last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary lines on stderr")
    p.add_argument("--json", action="store_true", help="print the run's summary as one JSON object on stdout")
    p.add_argument("--fork-from", metavar="RUN", default=None,
                   help="start --workdir from a checkpoint of RUN, with RUN's configuration changed by the flags "
                        "given (e.g. --clip-norm); the network's shape cannot change")
    p.add_argument("--fork-step", type=int, default=None, help="the kept checkpoint of --fork-from to start at")
    p.add_argument("--ensemble", type=int, default=None, metavar="K",
                   help="train K seeds (--seed .. --seed+K-1) in one compiled step, each in its own run directory "
                        "WORKDIR/seed<s>; --resume continues them")
    groups = {name: p.add_argument_group(name) for name in FIELD_GROUPS}
    group_of = {field: name for name, fields in FIELD_GROUPS.items() for field in fields}
    for f in dataclasses.fields(AnnealConfig):
        where = groups[group_of[f.name]]
        if f.name == "landscape":
            where.add_argument("--landscape", default=None,
                               help="comma-separated snapshots to scan during the run: "
                                    "before_warmup,after_warmup,mid_annealing,end (or 'paper' for all four)")
            continue
        kind = _type_of(f)
        # A None default is described by the help text itself (e.g. T0: 10 for vca, 0 for vqa).
        default = f.default if f.default not in ((), "") else None
        text = FIELD_HELP[f.name] + ("" if default is None else f" [default: {default}]")
        if f.name == "schedule_points":
            where.add_argument(_flag(f.name), dest=f.name, type=parse_schedule_points, default=None,
                               metavar=FIELD_METAVARS[f.name], help=text.replace(" (config file only)", ""))
        elif kind == "bool":      # --jit alone means true; --jit false also works (as in a config file)
            where.add_argument(_flag(f.name), dest=f.name, default=None, type=strict_bool, nargs="?", const=True,
                               metavar="true|false", help=text)
        else:
            choices = FIELD_CHOICES.get(f.name)
            metavar = None if choices else FIELD_METAVARS.get(f.name, "N" if kind is int else "X")
            where.add_argument(_flag(f.name), dest=f.name, type=kind, default=None, help=text,
                               choices=choices, metavar=metavar)
    p.set_defaults(func=_run, checks_before_tensorflow=True)


def config_from_args(args, base: dict | None = None) -> AnnealConfig:
    """``base`` (default: none) overridden by ``--config``, then by the flags given."""
    data = dict(base or {})
    data.update(load_config_file(args.config) if args.config else {})
    for f in dataclasses.fields(AnnealConfig):
        value = getattr(args, f.name, None)
        if value is not None and f.name not in _SKIP:
            data[f.name] = value
    if args.landscape:
        from ..landscape.snapshots import parse_tags

        data["landscape"] = parse_tags(args.landscape)
    return AnnealConfig.from_dict(data)


def _run(args) -> int:
    from ..annealing.rundir import RunDir
    from ..errors import UsageError

    RunDir(args.workdir)      # an empty path or a file: one line before the imports below load TensorFlow
    from ..runtime import configure_threads
    from ..annealing.ensemble_run import ensemble_members, read_ensemble_file
    from ..workflow import instruments, run_anneal

    if (args.fork_from is None) != (args.fork_step is None):
        raise UsageError("--fork-from and --fork-step go together")
    members = None
    if args.fork_from is not None:
        if args.resume:
            raise UsageError("--fork-from starts a new run directory; drop --resume")
        if args.ensemble is not None:
            raise UsageError("--fork-from forks one run; drop --ensemble")
        from ..annealing.restore import fork_run

        data = RunDir(args.fork_from).require().config().to_dict()
        cfg = config_from_args(args, base=data)
        fork_run(args.fork_from, args.workdir, args.fork_step, cfg)
    elif args.resume:
        given = [f.name for f in dataclasses.fields(AnnealConfig) if getattr(args, f.name, None) is not None]
        if given or args.config or args.ensemble is not None:
            where = f"{args.workdir}/config.json"
            raise UsageError(f"--resume takes the configuration from {where}; drop "
                             f"{', '.join(_flag(g) for g in given) or ('--config' if args.config else '--ensemble')}")
        members = read_ensemble_file(args.workdir)
        cfg = members[0][0] if members else RunDir(args.workdir).config()
    else:
        cfg = config_from_args(args)
        if args.ensemble is not None:
            members = ensemble_members(cfg, args.workdir, args.ensemble)
    instruments(cfg)          # checks the landscape_* fields before TensorFlow starts work
    if members:
        from ..annealing.ensemble_run import check_ensemble

        check_ensemble(members[0])
    from . import start_tensorflow

    start_tensorflow(args)
    configure_threads()
    if members:
        return _run_ensemble(args, *members)
    summary = run_anneal(cfg, args.workdir, resume=args.resume or args.fork_from is not None)
    logging.getLogger("nm_tf").info(describe_summary(summary))
    warning = untrained_warning(summary, RunDir(args.workdir).history(), cfg)
    if warning:
        logging.getLogger("nm_tf").warning(warning)
    if args.json:
        print(json.dumps(summary))
    return 0


def _run_ensemble(args, cfgs, workdirs) -> int:
    from ..annealing.ensemble_run import write_ensemble_file
    from ..annealing.rundir import RunDir
    from ..workflow import run_ensemble

    if not args.resume:
        for wd in workdirs:
            if RunDir(wd).exists:
                raise FileExistsError(f"{wd} already holds a run; use --resume to continue the ensemble")
        write_ensemble_file(args.workdir, cfgs, workdirs)
    summaries = run_ensemble(cfgs, workdirs, resume=args.resume)
    out = logging.getLogger("nm_tf")
    for cfg, wd, summary in zip(cfgs, workdirs, summaries):
        out.info(f"seed {cfg.seed} ({wd}):\n{describe_summary(summary)}")
        warning = untrained_warning(summary, RunDir(wd).history(), cfg)
        if warning:
            out.warning(f"seed {cfg.seed}: {warning}")
    if args.json:
        print(json.dumps(summaries))
    return 0


def untrained_warning(s: dict, history: list, cfg) -> str | None:
    """A run that ended where it started (entropy near ln 2 per spin in its last history row: the network is
    still near uniform) or with almost no ground states looks fine in a summary line; say so. A run without a
    single history row (every training step skipped as non-finite) says so too."""
    import math

    if not history:
        return (f"no training step of the {cfg.total_steps} was finite ({s.get('skipped_steps')} skipped): the "
                f"network was never trained; try a smaller --lr")
    if s.get("skipped_steps", 0) > 0.1 * cfg.total_steps:
        return (f"{s['skipped_steps']} of {cfg.total_steps} training steps were non-finite and skipped: the "
                f"numbers above come from a network trained on the rest; try a smaller --lr (or --clip-norm)")
    last_row = history[-1]
    if last_row.entropy_per_spin > 0.9 * math.log(2) and s["ground_state_fraction"] < 0.5:
        hint = (f"; {cfg.annealing_steps} annealing steps at lr {cfg.lr:g} may be too few to train (Table I's 1e-4 "
                f"is meant for 10 000): try a larger --lr for short runs" if cfg.annealing_steps < 10_000 else "")
        return (f"the network looks untrained: its final entropy per spin is {last_row.entropy_per_spin:.3f} "
                f"(ln 2 = {math.log(2):.3f}: a near-uniform distribution){hint}")
    if s["ground_state_fraction"] < 0.01:
        return (f"only {round(s['ground_state_fraction'] * s['n_samples'])} of {s['n_samples']} final samples are "
                f"ground states: the anneal did not reach the ground state")
    return None


def describe_summary(s: dict) -> str:
    """The numbers a physicist judges a run by, in two lines."""
    found = round(s["ground_state_fraction"] * s["n_samples"])
    lines = [f"final energy per spin {s['energy_per_spin_mean']:+.5f} ± {s['energy_per_spin_sem']:.5f} "
             f"(exact ground state {s['ground_state_energy_per_spin']:+.5f}); ground-state fraction "
             f"{s['ground_state_fraction']:.4f} ({found} of {s['n_samples']} final samples), "
             f"{s['distinct_ground_states']} of {s['degeneracy']} ground states seen"]
    if s.get("exact_rel_deviation_median") is not None:
        what = "F(T)" if s["mode"] == "vca" else "e0(Gamma)"
        lines.append(f"deviation from the exact {what} along the anneal: median "
                     f"{100 * s['exact_rel_deviation_median']:.2f}%, max {100 * s['exact_rel_deviation_max']:.1f}% "
                     f"over {s['exact_points']} annealing steps")
    # Counts that change how far the numbers above can be trusted; silent when there is nothing to say.
    counts = [f"{s['skipped_steps']} non-finite training steps skipped" if s.get("skipped_steps") else None,
              f"{s['sr_qr_solves']} SR updates solved from QR factors (their Cholesky factor failed)"
              if s.get("sr_qr_solves") else None]
    counts = [c for c in counts if c]
    if counts:
        partial = ("" if s.get("step_counts_complete", True)
                   else " (since the last resume: older checkpoints kept no count)")
        lines.append("; ".join(counts) + partial)
    return "\n".join(lines)
