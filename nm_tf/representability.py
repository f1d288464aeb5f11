"""Can the network represent the uniform distribution over the ground states? (paper's open question)

The annealing question "does p_theta learn every ground state?" mixes two things: whether some weights of the
ansatz give a uniform ground-state distribution, and whether the anneal finds them. This module answers the
first alone: it fits p_theta by maximum likelihood to the exact ground-state set (1 + ker A, enumerated), full
batch, so the objective is exact and deterministic:

    KL(u || p_theta) = -log D - (1/D) sum_g log p_theta(g)          (u uniform over the D ground states)

is 0 exactly when p_theta is uniform on the ground states (and then puts no weight elsewhere). By the chain rule
it splits row by row (every ordering visits the rows one after another, :meth:`NewmanMooreRNN.row_log_probs`):
the first row's term ``-log D - mean log p(row 0)`` is the choice among ground states (a ground state is fixed by
its first row), the later rows' terms ``-mean log p(row y | rows above)`` are the triangle rule. Also exact:
the ground-state mass ``sum_g p(g)`` and the effective number of ground states ``exp(H)`` of p restricted to them.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from .errors import UsageError
from .exact import degeneracy, ground_states

__all__ = ["FitConfig", "PlateauRule", "exact_ground_state_metrics", "fit_uniform_ground_states",
           "MAX_FIT_DEGENERACY"]

MAX_FIT_DEGENERACY = 1 << 14      # full-batch fit: every ground state in every step


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """One maximum-likelihood fit: the network (as an anneal's model fields) and the optimiser."""
    L: int
    hidden: int = 40
    cell: str = "vanilla"
    ordering: str = "zigzag"
    seed: int = 0
    dtype: str = "float32"
    lr: float = 1e-3
    max_steps: int = 60_000
    tol: float = 1e-3          # stop when KL (nats) falls below this, ...
    patience: int = 2_000      # ... halve lr after a block of this many steps that does not improve by 1 %, ...
    lr_reductions: int = 5     # ... and stop at the first such block after this many halvings
    log_every: int = 100

    def check(self):
        if degeneracy(self.L) > MAX_FIT_DEGENERACY:
            raise UsageError(f"L = {self.L} has {degeneracy(self.L)} ground states; the full-batch fit takes at "
                             f"most {MAX_FIT_DEGENERACY}")
        for name in ("max_steps", "patience", "log_every", "lr_reductions"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "lr_reductions" else 1):
                raise UsageError(f"Received an invalid value for argument `{name}`: expected a positive integer, "
                                 f"got {v!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise UsageError(f"Received an invalid value for argument `lr`: expected a positive number, "
                             f"got {self.lr!r}")
        return self


class PlateauRule:
    """When the fit has converged: blocks of ``patience`` steps, each judged against every step before it.

    A block whose lowest KL is not 1 % below the lowest KL before it halves the learning rate (``"reduce"``);
    the first such block after ``max_reductions`` halvings ends the fit (``"stop"``). Judging whole blocks, not
    the time since the best step, keeps a fit going that is still descending after a spike of the loss (full-batch
    Adam at lr 1e-3 spikes now and then); the halvings damp those spikes and let the fit settle. (Keras's
    ``ReduceLROnPlateau`` is a ``fit()`` callback; this loop is a compiled custom step, so the rule is here.)
    """

    def __init__(self, patience: int, max_reductions: int, factor: float = 0.5):
        self.patience, self.max_reductions, self.factor = patience, max_reductions, factor
        self.reductions, self.best_before, self.block_best, self.steps = 0, math.inf, math.inf, 0

    def update(self, kl: float) -> str:
        """Record one step's KL; returns ``"continue"``, ``"reduce"`` (halve lr now) or ``"stop"``."""
        self.steps += 1
        self.block_best = min(self.block_best, kl)
        if self.steps % self.patience:
            return "continue"
        improved = self.block_best < 0.99 * self.best_before
        self.best_before = min(self.best_before, self.block_best)
        self.block_best = math.inf
        if improved:
            return "continue"
        if self.reductions >= self.max_reductions:
            return "stop"
        self.reductions += 1
        return "reduce"


def exact_ground_state_metrics(model) -> dict:
    """Exact statistics of ``p_theta`` on the ground-state set of ``model.L``.

    Returns ``kl_to_uniform`` (KL(u || p), nats), ``row_kl`` (its row-by-row terms, summing to it),
    ``ground_state_mass`` (sum_g p(g)), ``effective_ground_states`` (exp of the entropy of p restricted to the
    ground states and renormalised), ``min_ratio`` (min_g p(g) / mean_g p(g)) and ``degeneracy``.
    """
    gs = ground_states(model.L).astype(np.int32)
    D = len(gs)
    rows = np.asarray(model.row_log_probs(gs), dtype=np.float64)        # [D, L]
    log_p = rows.sum(axis=1)
    row_kl = -rows.mean(axis=0)
    row_kl[0] -= math.log(D)
    q = np.exp(log_p - log_p.max())
    q /= q.sum()
    entropy = -float(np.sum(q * np.log(np.where(q > 0, q, 1.0))))
    return {"degeneracy": D, "kl_to_uniform": float(row_kl.sum()), "row_kl": [float(v) for v in row_kl],
            "ground_state_mass": float(np.exp(log_p).sum()), "effective_ground_states": math.exp(entropy),
            "min_ratio": float(q.min() * D)}


def fit_uniform_ground_states(cfg: FitConfig, progress=None):
    """Fit a fresh network (``cfg``'s fields) to the uniform ground-state distribution by full-batch Adam.

    Args:
        cfg: a :class:`FitConfig`.
        progress: optional callable ``(step, kl)`` called every ``cfg.log_every`` steps.

    Returns:
        ``(model, history, result)``: the fitted model, a list of ``(step, kl, seconds, lr)`` and
        :func:`exact_ground_state_metrics` of the final weights plus ``steps``, ``wall_seconds``,
        ``stopped`` (``"tol"``, ``"plateau"`` (see :class:`PlateauRule`) or ``"max_steps"``), ``initial_kl``,
        ``lr_reductions`` (halvings made) and ``final_lr``.
    """
    import tensorflow as tf

    from .models.factory import build_model

    cfg.check()
    model = build_model(dataclasses.asdict(cfg))
    gs = tf.constant(ground_states(cfg.L).astype(np.int32))
    log_d = math.log(len(gs))
    opt = tf.keras.optimizers.Adam(cfg.lr)
    weights = model.trainable_variables

    @tf.function(jit_compile=True, reduce_retracing=False)
    def step():
        with tf.GradientTape() as tape:
            kl = -tf.reduce_mean(model.log_prob_graph(gs)) - log_d
        opt.apply_gradients(zip(tape.gradient(kl, weights), weights))
        return kl

    t0 = time.monotonic()
    initial = exact_ground_state_metrics(model)["kl_to_uniform"]
    rule, lr, stopped = PlateauRule(cfg.patience, cfg.lr_reductions), cfg.lr, "max_steps"
    history = []
    for i in range(1, cfg.max_steps + 1):
        kl = float(step())           # KL before this update
        if i % cfg.log_every == 0 or i == cfg.max_steps:
            history.append((i, kl, round(time.monotonic() - t0, 2), lr))
            if progress is not None:
                progress(i, kl)
        if kl < cfg.tol:
            stopped = "tol"
            break
        action = rule.update(kl)
        if action == "stop":
            stopped = "plateau"
            break
        if action == "reduce":
            lr *= rule.factor
            opt.learning_rate.assign(lr)     # a variable: the compiled step reads the new value
    result = exact_ground_state_metrics(model)
    result.update(steps=i, wall_seconds=round(time.monotonic() - t0, 1), stopped=stopped, initial_kl=initial,
                  lr_reductions=rule.reductions, final_lr=lr)
    return model, history, result
