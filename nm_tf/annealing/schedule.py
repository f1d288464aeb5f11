"""Annealing schedules: the (T, Gamma) of every training step."""

from __future__ import annotations

import math

import numpy as np

from .config import AnnealConfig

__all__ = ["fraction", "step_phase", "temperature_and_field"]


def fraction(cfg: AnnealConfig, t: float) -> float:
    """Remaining fraction of T0/Gamma0 at annealing progress ``t in [0, 1]`` (1 -> 0 exactly)."""
    if t >= 1.0:
        return 0.0
    if cfg.schedule == "linear":
        return 1.0 - t
    if cfg.schedule == "exponential":
        k = 5.0
        return (math.exp(-k * t) - math.exp(-k)) / (1.0 - math.exp(-k))
    pts = np.asarray(cfg.schedule_points, dtype=float)
    return float(np.interp(t, pts[:, 0], pts[:, 1]))


def step_phase(cfg: AnnealConfig, step: int):
    """Map a global training step to ``(phase, annealing_step)``.

    Steps ``0 .. warmup-1`` are warm-up (annealing step 0); then annealing step
    ``a = 1 .. annealing_steps`` covers ``train_steps`` training steps.
    """
    if step < cfg.warmup:
        return "warmup", 0
    return "anneal", (step - cfg.warmup) // cfg.train_steps + 1


def temperature_and_field(cfg: AnnealConfig, step: int):
    """``(T, Gamma)`` used by global training step ``step``."""
    phase, a = step_phase(cfg, step)
    if phase == "warmup" or cfg.annealing_steps == 0:
        f = 1.0
    else:
        f = fraction(cfg, a / cfg.annealing_steps)
    return (cfg.T_final + (cfg.T_start - cfg.T_final) * f,
            cfg.gamma_final + (cfg.gamma_start - cfg.gamma_final) * f)
