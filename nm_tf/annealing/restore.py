"""Rebuild the model of a run directory at a chosen checkpoint."""

from __future__ import annotations

import re
from pathlib import Path

from .rundir import RunDir

__all__ = ["check_checkpoint", "list_checkpoints", "restore_model"]


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


def restore_model(workdir, checkpoint: int | None = None, jit_compile: bool = False):
    """The run's model with the weights of checkpoint ``checkpoint`` (default: the final weights).

    Args:
        workdir: run directory.
        checkpoint: training step of a kept checkpoint; None = ``model.weights.h5`` of a
            finished run, else the latest checkpoint.
        jit_compile: XLA for the model's own ``sample``/``log_prob``.

    Returns:
        ``(model, cfg, step)``; ``step`` = training steps done at those weights.
    """
    import tensorflow as tf

    from ..models import NewmanMooreRNN

    workdir = Path(workdir)
    run = RunDir(workdir)
    cfg = run.config()
    model = NewmanMooreRNN(cfg.L, hidden=cfg.hidden, cell=cfg.cell, ordering=cfg.ordering, seed=cfg.seed,
                           jit_compile=jit_compile, dtype=cfg.dtype)
    kept = list_checkpoints(workdir)
    weights = run.weights_path
    if checkpoint is None and weights.exists():
        model.load_weights(weights)
        return model, cfg, cfg.total_steps
    if checkpoint is None:
        if not kept:
            raise FileNotFoundError(f"run {workdir} has no checkpoint or model.weights.h5 yet")
        checkpoint = max(kept)
    tf.train.Checkpoint(model=model).restore(check_checkpoint(workdir, checkpoint)).expect_partial()
    return model, cfg, checkpoint
