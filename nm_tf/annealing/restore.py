"""Rebuild the model of a run directory at a chosen checkpoint."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ..errors import RunError, UsageError
from .rundir import RunDir, atomic_write_text

__all__ = ["check_checkpoint", "fork_run", "list_checkpoints", "restore_model"]

# The checkpoint holds these fields' variables (shapes, dtypes): a fork may change anything else.
_FORK_FIXED = ("mode", "L", "hidden", "cell", "ordering", "dtype")


def list_checkpoints(workdir) -> dict:
    """``{step: checkpoint prefix}`` of the checkpoints kept in ``<run>/checkpoints``."""
    found = {}
    for index in RunDir(workdir).checkpoints.glob("ckpt-*.index"):
        m = re.fullmatch(r"ckpt-(\d+)\.index", index.name)
        if m:
            found[int(m.group(1))] = str(index.with_suffix(""))
    return dict(sorted(found.items()))


def check_checkpoint(workdir, checkpoint: int) -> str:
    """The prefix of kept checkpoint ``checkpoint``; ``FileNotFoundError`` listing the kept ones otherwise."""
    kept = list_checkpoints(workdir)
    if checkpoint not in kept:
        have = ", ".join(map(str, kept)) or "none"
        raise FileNotFoundError(f"run {workdir} has no checkpoint {checkpoint} (kept: {have})")
    return kept[checkpoint]


def restore_model(workdir, checkpoint: int | None = None, jit_compile: bool = False, **overrides):
    """The run's model with the weights of checkpoint ``checkpoint`` (default: the final weights).

    Args:
        workdir: run directory.
        checkpoint: training step of a kept checkpoint; None = ``model.weights.h5`` of a
            finished run, else the latest checkpoint.
        jit_compile: XLA for the model's own ``sample``/``log_prob``.
        overrides: to the model's constructor (e.g. ``manual_backprop=False`` for a model that is never
            differentiated).

    Returns:
        ``(model, cfg, step)``; ``step`` = training steps done at those weights.
    """
    import tensorflow as tf

    from ..models import build_model

    workdir = Path(workdir)
    run = RunDir(workdir)
    cfg = run.config()
    model = build_model(cfg, jit_compile=jit_compile, **overrides)
    kept = list_checkpoints(workdir)
    weights = run.weights_path
    if checkpoint is None and weights.exists():
        try:
            model.load_weights(weights)
        except Exception as exc:  # noqa: BLE001 - h5py and Keras raise many kinds for a damaged file
            raise RunError(f"the final weights {weights} cannot be read ({_first_line(exc)})") from None
        return model, cfg, cfg.total_steps
    if checkpoint is not None:
        prefix = check_checkpoint(workdir, checkpoint)
        try:
            tf.train.Checkpoint(model=model).restore(prefix).expect_partial()
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint
            raise RunError(f"checkpoint {checkpoint} of run {workdir} cannot be read ({_first_line(exc)})") from None
        return model, cfg, checkpoint
    if not kept:
        raise FileNotFoundError(f"run {workdir} has no checkpoint or model.weights.h5 yet")
    for step in sorted(kept, reverse=True):      # the latest readable one, as a resumed anneal does
        try:
            tf.train.Checkpoint(model=model).restore(kept[step]).expect_partial()
            return model, cfg, step
        except Exception:  # noqa: BLE001 - try the previous one
            continue
    raise RunError(f"none of the checkpoints in {run.checkpoints} can be read (kept: {', '.join(map(str, kept))})")


def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def fork_run(source, dest, step: int, cfg) -> list:
    """Start run ``dest`` from checkpoint ``step`` of run ``source`` with configuration ``cfg``.

    ``dest`` gets ``source``'s history, that checkpoint (weights and Adam state) and its wall-time
    record, and ``cfg`` as its own configuration: the state of a run stopped after that checkpoint.
    Resuming ``dest`` (as ``nm-tf anneal --fork-from`` does) cuts the history at ``step`` and continues from
    ``step`` under ``cfg`` (same seed and schedule: exactly as ``source`` did). ``forked_from.json``
    records the source, the step and the fields changed, which are returned. Landscape snapshots,
    the TensorBoard log and the final outputs stay behind.
    """
    src, out = RunDir(source).require(), RunDir(dest)
    if out.path.exists() and any(out.path.iterdir()):
        raise FileExistsError(f"{out.path} is not empty; choose a new --workdir for the fork")
    prefix = Path(check_checkpoint(source, step))
    changed = src.differences(cfg)
    fixed = [k for k in changed if k in _FORK_FIXED]
    if fixed:
        raise UsageError(f"a fork keeps the network of its checkpoint: {', '.join(fixed)} cannot change")
    if step > cfg.total_steps:
        raise UsageError(f"checkpoint {step} lies beyond the {cfg.total_steps} steps of the new configuration")
    out.write_config(cfg)                            # config.json and its pinned copy
    for part in prefix.parent.glob(prefix.name + ".*"):
        shutil.copy2(part, out.checkpoints / part.name)
    seconds, tallies = src.wall_at(step), src.tallies_at(step)
    if seconds is not None:
        out.record_wall(step, seconds)
    if tallies is not None:
        out.record_tallies(step, tallies)
    # Whole: resuming drops the rows past the checkpoint (CSVLogger.open), as for a run killed after it.
    shutil.copy2(src.history_path, out.history_path)
    atomic_write_text(out.path / "forked_from.json", json.dumps(
        {"source": str(src.path.resolve()), "step": step, "changed": {k: cfg.to_dict()[k] for k in changed}},
        indent=1) + "\n")
    return changed
