"""An ensemble of anneals: K ordinary run directories trained together by one compiled step.

Each member is an :class:`~nm_tf.annealing.driver.AnnealRun` of its own configuration (the ensemble's with its own
seed) in its own run directory, with the files of a single run: ``config.json``, ``history.csv``, TensorBoard
events, checkpoints (its weights *and* its Adam moments), ``model.weights.h5``, ``summary.json``. So a member can
be exported, scanned, sampled, even resumed as a single run, with no tool knowing it was trained in an ensemble.
The member runs keep their own book-keeping (history rows, skipped steps, checkpoints, snapshots, the final
sample); this module only replaces their training step by one :class:`~nm_tf.annealing.ensemble.EnsembleStep`
and copies a member's slice of the stacked weights into its network whenever the member needs it.

Resume and failure are per member: members are restored from their own checkpoints and grouped by the step they
restored (normally one group; a crash between two members' checkpoint writes gives two, trained one after the
other); a member whose loss stays NaN/inf for ``max_bad_steps`` steps is frozen and reported while the others
train on (its last good checkpoint is kept, as for a single run). ``wall_seconds`` of a member is the wall time of
the whole ensemble (``ensemble_size`` in its summary says how many shared it).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from ..errors import UsageError
from .config import AnnealConfig
from .driver import AnnealRun, NonFiniteError, default_loggers
from .rundir import RunDir, atomic_write_text
from .schedule import temperature_and_field

__all__ = ["ENSEMBLE_FILE", "anneal_ensemble", "check_ensemble", "ensemble_members", "read_ensemble_file",
           "write_ensemble_file"]
log = logging.getLogger("nm_tf")
ENSEMBLE_FILE = "ensemble.json"     # in an ``nm-tf anneal --ensemble K`` workdir: the members' folders
MAX_ENSEMBLE = 1024                 # each member is a network, an optimizer and a run directory in this process


def ensemble_members(cfg: AnnealConfig, workdir, size: int) -> tuple[list, list]:
    """The members of ``--ensemble size`` in ``workdir``: configurations with seeds ``cfg.seed .. +size-1`` and
    run directories ``workdir/seed<seed>``."""
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_ENSEMBLE:
        raise UsageError(f"Received an invalid value for argument `ensemble`: expected an integer in "
                         f"1..{MAX_ENSEMBLE}, got {size!r}")
    cfgs = [cfg.replace(seed=cfg.seed + k) for k in range(size)]
    return cfgs, [Path(workdir) / f"seed{c.seed}" for c in cfgs]


def write_ensemble_file(workdir, cfgs, workdirs):
    """``workdir/ensemble.json``: which folders hold the members (written once, before any member starts)."""
    path = Path(workdir) / ENSEMBLE_FILE
    body = {"members": [str(Path(w).relative_to(workdir)) for w in workdirs], "seeds": [c.seed for c in cfgs]}
    if path.exists():
        if json.loads(path.read_text()) != body:
            raise UsageError(f"{workdir} holds another ensemble ({path}); choose a new --workdir")
        return
    Path(workdir).mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(body, indent=1) + "\n")


def read_ensemble_file(workdir) -> tuple[list, list] | None:
    """``(configs, run directories)`` of the ensemble in ``workdir``, or None when it holds none."""
    path = Path(workdir) / ENSEMBLE_FILE
    if not path.exists():
        return None
    try:
        members = [Path(workdir) / m for m in json.loads(path.read_text())["members"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not an ensemble file ({exc})") from None
    found = [m for m in members if RunDir(m).config_path.exists()]
    if not found:
        raise UsageError(f"{path} names no member with a config.json; the ensemble never started")
    base = RunDir(found[0]).config()
    seed0 = base.seed - members.index(found[0])
    return [base.replace(seed=seed0 + k) for k in range(len(members))], members


def check_ensemble(cfgs):
    """Refuse, in one line, what an ensemble cannot train."""
    if not cfgs:
        raise UsageError("an ensemble needs at least one member")
    base = cfgs[0].to_dict()
    for c in cfgs[1:]:
        other = {k: v for k, v in c.to_dict().items() if base.get(k) != v and k != "seed"}
        if other:
            raise UsageError(f"the members of an ensemble may differ only in seed, not in {', '.join(other)}")
    seeds = [c.seed for c in cfgs]
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"the members of an ensemble need distinct seeds, got {seeds}")
    cfg = cfgs[0]
    refused = {f"symmetry {cfg.symmetry}": cfg.symmetry != "none", f"replicas {cfg.replicas}": cfg.replicas != 1}
    bad = [k for k, v in refused.items() if v]
    if bad:
        raise UsageError(f"an ensemble cannot train with {', '.join(bad)}; run the seeds one by one")


def anneal_ensemble(cfgs, workdirs, *, resume: bool = False, reuse: bool = False, callbacks=None,
                    loggers=None) -> list:
    """Train the members ``cfgs`` (differing only in seed) in ``workdirs``; returns their summaries in order.

    Args:
        resume: continue started members from their checkpoints (members not started yet start).
        reuse: as ``resume``, and a finished member's summary is returned without training it (sweeps).
        callbacks: one list of callbacks per member (or None).
        loggers: None (the defaults; progress for the first member only) or a function ``k -> loggers``.

    Raises:
        NonFiniteError: after every other member finished, when some members stopped on NaN/inf.
    """
    check_ensemble(cfgs)
    if len(cfgs) > MAX_ENSEMBLE:
        raise UsageError(f"an ensemble holds at most {MAX_ENSEMBLE} members, got {len(cfgs)}")
    if len(workdirs) != len(cfgs):
        raise UsageError(f"{len(cfgs)} member configurations but {len(workdirs)} run directories")
    callbacks = callbacks or [[] for _ in cfgs]
    summaries, runs, failures = [None] * len(cfgs), {}, []
    try:
        for k, (cfg, wd) in enumerate(zip(cfgs, workdirs)):
            rd = RunDir(wd)
            if (resume or reuse) and rd.exists:
                changed = rd.differences(cfg)
                if changed:
                    raise UsageError(f"{wd} holds a run with a different configuration ({', '.join(changed)})")
                if rd.finished:
                    if not reuse:
                        raise FileExistsError(f"run in {wd} already finished (summary.json exists)")
                    summaries[k] = rd.summary()
                    continue
            run = AnnealRun(cfg, wd)
            runs[k] = run
            run.prepare((resume or reuse) and rd.exists)
        if runs:
            shared = next(iter(runs.values())).exact     # one exact reference curve for all (it ignores the seed)
            for run in runs.values():
                run.exact = shared
        for start in sorted({r.start for r in runs.values()}):
            group = [k for k in runs if runs[k].start == start]
            done, failed = _train_group([runs[k] for k in group], [callbacks[k] for k in group], group, loggers,
                                        len(cfgs))
            for k, summary in zip(group, done):
                summaries[k] = summary
            failures += failed
    finally:
        for run in runs.values():
            run.release()
    if failures:
        raise NonFiniteError(f"{len(failures)} of {len(cfgs)} ensemble members stopped: " + "; ".join(failures))
    return summaries


def _train_group(runs, callbacks, indices, loggers, size) -> tuple[list, list]:
    """Train members restored at one step to the end; ``(summaries, failure messages)``."""
    from .ensemble import EnsembleStep, stack_weights
    from .losses import StepSpec

    lead = runs[0]
    cfg, start, total = lead.cfg, lead.start, lead.cfg.total_steps
    ens = EnsembleStep(lead.model, [r.cfg.seed for r in runs], StepSpec.from_config(cfg),
                       stack_weights([r.model for r in runs]), cfg.lr, jit_compile=cfg.jit)
    ens.load_members([r.model for r in runs], [r.optimizer for r in runs])
    seeds = [r.cfg.seed for r in runs]
    for k, (run, index) in enumerate(zip(runs, indices)):
        run.weights_source = (lambda k=k, run=run: ens.store_member(k, run.model, run.optimizer))
        run.summary_extra = {"ensemble_size": size}
        own = (default_loggers() if index == indices[0] else _quiet_loggers()) if loggers is None else loggers(index)
        run.attach(None, own, callbacks[k])
    t0 = time.monotonic()
    for run in runs:
        run._t_segment = t0
        run.begin_steps(start)
    alive, failed, paused = list(range(len(runs))), [], {}
    log.info(f"ensemble of {len(runs)} (seeds {seeds[0]}..{seeds[-1]}) from step {start}")
    try:
        for s in range(start, total):
            T, gamma = temperature_and_field(cfg, s)
            out = ens(s, T, gamma)
            for k in list(alive):
                try:
                    stop = runs[k].record_step(s, T, gamma, {key: v[k].item() for key, v in out.items()}, total)
                except NonFiniteError as exc:
                    failed.append(f"seed {seeds[k]}: {exc}")
                    ens.active[k].assign(False)
                    alive.remove(k)
                    runs[k]._close_loggers(None, runs[k]._saved_step or start, success=False)
                    continue
                if stop is not None:       # a callback stopped this member: it waits at ``stop``
                    paused[k] = stop
                    ens.active[k].assign(False)
                    alive.remove(k)
            if not alive:
                break
    except BaseException:
        for k in alive:
            runs[k]._close_loggers(None, runs[k]._saved_step or start, success=True)
        raise
    seconds = time.monotonic() - t0
    summaries = [None] * len(runs)
    for k in alive:
        runs[k].end_steps()
        summaries[k] = runs[k].finish(total, seconds)
    for k, stop in paused.items():
        runs[k].finish(stop, seconds)
    return summaries, failed


def _quiet_loggers() -> list:
    """A member's loggers but the first's: its history and TensorBoard events, no second progress bar."""
    from .loggers import CSVLogger
    from .tensorboard import TensorBoardLogger

    return [CSVLogger(), TensorBoardLogger()]
