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
import json
import math
import time
from pathlib import Path

import numpy as np

from .errors import UsageError
from .exact import degeneracy, ground_states

__all__ = ["FitConfig", "boltzmann_metrics", "exact_ground_state_metrics", "fit_boltzmann", "fit_uniform_ground_states",
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
    lr: float = 1e-3           # Adam's initial learning rate, cosine-decayed to 0 over max_steps
    max_steps: int = 60_000
    tol: float = 1e-3          # stop early when KL (nats) falls below this
    log_every: int = 100

    def check(self):
        if degeneracy(self.L) > MAX_FIT_DEGENERACY:
            raise UsageError(f"L = {self.L} has {degeneracy(self.L)} ground states; the full-batch fit takes at "
                             f"most {MAX_FIT_DEGENERACY}")
        for name in ("max_steps", "log_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UsageError(f"Received an invalid value for argument `{name}`: expected a positive integer, "
                                 f"got {v!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise UsageError(f"Received an invalid value for argument `lr`: expected a positive number, "
                             f"got {self.lr!r}")
        return self


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


class _FitCheckpoint:
    """A fit's checkpoints in ``folder`` (none when ``folder`` is None): the weights and Adam's state (its step
    count drives the learning-rate schedule) through ``tf.train.CheckpointManager``, and beside them
    ``fit_state.json`` with the step and whatever the fit needs to continue (its history, the seconds so far).
    The same configuration on resumption is the caller's to ensure."""

    def __init__(self, folder, model, opt, weights):
        import tensorflow as tf

        opt.build(weights)                 # its moments exist before a checkpoint is read into them
        self.opt, self.manager = opt, None
        if folder is not None:
            self.ckpt = tf.train.Checkpoint(model=model, optimizer=opt)
            self.manager = tf.train.CheckpointManager(self.ckpt, str(folder), max_to_keep=2)
            self.state_path = Path(folder) / "fit_state.json"

    def restore(self):
        """The saved state (a dict with ``step``), the weights and Adam's state restored; None when there is none."""
        if self.manager is None or not self.manager.latest_checkpoint or not self.state_path.exists():
            return None
        self.ckpt.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        state = json.loads(self.state_path.read_text())
        if state["step"] != int(self.opt.iterations.numpy()):
            raise RuntimeError(f"{self.state_path} is at step {state['step']}, its checkpoint at "
                               f"{int(self.opt.iterations.numpy())}")
        return state

    def save(self, step: int, **state):
        if self.manager is None:
            return
        self.manager.save(checkpoint_number=step)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps({"step": step, **state}))
        tmp.replace(self.state_path)


def fit_uniform_ground_states(cfg: FitConfig, progress=None, checkpoint_dir=None, checkpoint_every: int = 2_000):
    """Fit a fresh network (``cfg``'s fields) to the uniform ground-state distribution by full-batch Adam.

    Args:
        cfg: a :class:`FitConfig`.
        progress: optional callable ``(step, kl)`` called every ``cfg.log_every`` steps.
        checkpoint_dir: optional folder: every ``checkpoint_every`` steps the weights, Adam's state (its step
            count drives the schedule) and the history so far are kept there, and a fit that finds a checkpoint
            there continues from it (the same configuration is the caller's to ensure).

    Returns:
        ``(model, history, result)``: the fitted model, a list of ``(step, kl, seconds, lr)`` and
        :func:`exact_ground_state_metrics` of the final weights plus ``steps``, ``wall_seconds``,
        ``stopped`` (``"tol"`` or ``"max_steps"``), ``initial_kl`` and ``final_lr``.
    """
    import tensorflow as tf

    from .models.factory import build_model

    cfg.check()
    model = build_model(dataclasses.asdict(cfg))
    gs = tf.constant(ground_states(cfg.L).astype(np.int32))
    log_d = math.log(len(gs))
    # The learning rate decays to 0 over the whole fit: full-batch Adam at a constant 1e-3 spikes now and then
    # and then descends slowly, so neither a fixed rate nor a plateau rule (which mistakes that slow descent for
    # convergence) gives a fit that has settled; a decayed rate does, and the fit's length is fixed in advance.
    opt = tf.keras.optimizers.Adam(tf.keras.optimizers.schedules.CosineDecay(cfg.lr, cfg.max_steps))
    weights = model.trainable_variables

    @tf.function(jit_compile=True, reduce_retracing=False)
    def step():
        with tf.GradientTape() as tape:
            kl = -tf.reduce_mean(model.log_prob_graph(gs)) - log_d
        opt.apply_gradients(zip(tape.gradient(kl, weights), weights))
        return kl

    t0, keeper = time.monotonic(), _FitCheckpoint(checkpoint_dir, model, opt, weights)
    state = keeper.restore()
    if state is None:
        initial, before, history, first = exact_ground_state_metrics(model)["kl_to_uniform"], 0.0, [], 1
    else:
        initial, before = state["initial_kl"], state["seconds"]
        history, first = [tuple(h) for h in state["history"]], state["step"] + 1
    stopped, i = "max_steps", first - 1
    for i in range(first, cfg.max_steps + 1):
        lr = float(opt.learning_rate)      # the rate of this step's update
        kl = float(step())                 # KL before this update
        if i % cfg.log_every == 0 or i == cfg.max_steps:
            history.append((i, kl, round(before + time.monotonic() - t0, 2), lr))
            if progress is not None:
                progress(i, kl)
        if kl < cfg.tol:
            stopped = "tol"
            break
        if i % checkpoint_every == 0 and i < cfg.max_steps:
            keeper.save(i, initial_kl=initial, history=history, seconds=before + time.monotonic() - t0)
    result = exact_ground_state_metrics(model)
    result.update(steps=i, wall_seconds=round(before + time.monotonic() - t0, 1), stopped=stopped, initial_kl=initial,
                  final_lr=float(opt.learning_rate))
    return model, history, result


# ---------------------------------------------------------------------------------------------- at temperature T
def _log_boltzmann(parities, L: int, T: float, J: float) -> np.ndarray:
    """Exact ``log p_B`` per configuration from its triangle parities ``[B, N]``."""
    from .exact import thermodynamics
    from .hamiltonian import energy_from_parities

    return -energy_from_parities(parities, J) / T - thermodynamics(L, T, J)["log_Z"]


def _forward_kl(model, heldout, log_b) -> np.ndarray:
    """``(log p_B - log p_theta) / N`` on each held-out configuration (``log_b``: its exact ``log p_B``)."""
    return (log_b - np.asarray(model.log_prob(heldout), dtype=np.float64)) / heldout.shape[1]


def boltzmann_metrics(model, T: float, heldout, samples: int = 10_000, seed=0, J: float = 1.0) -> dict:
    """How close ``p_theta`` is to the Boltzmann distribution at ``T`` (L = 2**k, where exact samples exist).

    ``heldout``: exact Boltzmann samples (:func:`nm_tf.exact.boltzmann_samples`). Returns ``kl_forward`` =
    KL(p_B || p_theta) per spin, the mean of ``log p_B - log p_theta`` over ``heldout`` (what a fit to samples
    minimises; ``_se`` its standard error); from ``samples`` of ``p_theta`` itself (``seed``): ``kl_reverse`` =
    KL(p_theta || p_B) per spin = (F_theta - F_exact) / T (what the anneal minimises), ``energy`` (per spin),
    ``entropy`` (per spin) and ``broken_by_row`` (:func:`nm_tf.hamiltonian.broken_by_row`)."""
    from .exact import thermodynamics
    from .hamiltonian import broken_by_row, energy_from_parities, triangle_parities

    L = model.L
    n = L * L
    th = thermodynamics(L, T, J)
    heldout = np.asarray(heldout, dtype=np.uint8)
    gap = _forward_kl(model, heldout, _log_boltzmann(triangle_parities(heldout, L), L, T, J))
    bits, log_p = model.sample(samples, seed=seed)
    parities = triangle_parities(bits.numpy().astype(np.uint8), L)
    log_p = log_p.numpy().astype(np.float64)
    rev = (log_p - _log_boltzmann(parities, L, T, J)) / n
    return {"T": float(T), "kl_forward": float(gap.mean()),
            "kl_forward_se": float(gap.std(ddof=1) / math.sqrt(len(gap))),
            "kl_reverse": float(rev.mean()), "kl_reverse_se": float(rev.std(ddof=1) / math.sqrt(len(rev))),
            "energy": float(energy_from_parities(parities, J).mean() / n), "energy_exact": th["energy"],
            "entropy": float(-log_p.mean() / n), "entropy_exact": th["entropy"],
            "broken_by_row": [float(v) for v in broken_by_row(parities, L)]}


def fit_boltzmann(cfg: FitConfig, T: float, batch: int = 100, heldout: int = 10_000, progress=None,
                  J: float = 1.0, checkpoint_dir=None, checkpoint_every: int = 2_000):
    """Fit a fresh network (``cfg``'s fields) by maximum likelihood to exact Boltzmann samples at ``T``.

    Every step draws ``batch`` new exact samples (:func:`nm_tf.exact.boltzmann_samples`, seed ``[cfg.seed, step]``),
    so the data never repeat; Adam's rate is cosine-decayed from ``cfg.lr`` to 0 over ``cfg.max_steps``. This asks
    whether some weights of the ansatz hold the thermal state at T, apart from whether an anneal finds them.
    ``checkpoint_dir``: as in :func:`fit_uniform_ground_states`; since step i's data are seeded by i, a fit resumed
    from its checkpoint continues as the uninterrupted one would.

    Returns ``(model, history, result)``: ``history`` a list of ``(step, kl_forward, seconds)`` every
    ``cfg.log_every`` steps on a fixed held-out set (seed ``[cfg.seed, -1]``, ``heldout`` samples, 2 000 of them
    for the history), ``result`` :func:`boltzmann_metrics` of the final weights on the whole held-out set plus
    ``steps`` and ``wall_seconds``."""
    import tensorflow as tf

    from .exact import boltzmann_samples
    from .models.factory import build_model

    cfg.check()
    model = build_model(dataclasses.asdict(cfg))
    from .hamiltonian import triangle_parities

    held = boltzmann_samples(cfg.L, T, heldout, seed=[cfg.seed, 2**31 - 1], J=J)
    logged = held[:2000]                   # the history's held-out set, its exact log p_B computed once
    logged_log_b = _log_boltzmann(triangle_parities(logged, cfg.L), cfg.L, T, J)
    opt = tf.keras.optimizers.Adam(tf.keras.optimizers.schedules.CosineDecay(cfg.lr, cfg.max_steps))
    weights = model.trainable_variables

    @tf.function(jit_compile=True, reduce_retracing=False)
    def step(bits):
        with tf.GradientTape() as tape:
            nll = -tf.reduce_mean(model.log_prob_graph(bits))
        opt.apply_gradients(zip(tape.gradient(nll, weights), weights))
        return nll

    t0, keeper = time.monotonic(), _FitCheckpoint(checkpoint_dir, model, opt, weights)
    state = keeper.restore() or {"step": 0, "history": [], "seconds": 0.0}
    history, before = [tuple(h) for h in state["history"]], state["seconds"]
    for i in range(state["step"] + 1, cfg.max_steps + 1):
        step(tf.constant(boltzmann_samples(cfg.L, T, batch, seed=[cfg.seed, i], J=J).astype(np.int32)))
        if i % cfg.log_every == 0 or i == cfg.max_steps:
            kl = float(_forward_kl(model, logged, logged_log_b).mean())
            history.append((i, kl, round(before + time.monotonic() - t0, 2)))
            if progress is not None:
                progress(i, kl)
        if i % checkpoint_every == 0 and i < cfg.max_steps:
            keeper.save(i, history=history, seconds=before + time.monotonic() - t0)
    result = boltzmann_metrics(model, T, held, seed=[cfg.seed, 0], J=J)
    result.update(steps=cfg.max_steps, wall_seconds=round(before + time.monotonic() - t0, 1))
    return model, history, result
