"""Many seeds in one compiled step: K independent networks with their weights stacked along a leading axis.

Member ``k`` is the network of seed ``seeds[k]``: its own initialisation (that of a single run of that seed), its
own samples (the stateless uniforms ``[seeds[k], s]`` of training step ``s``, exactly those of the single run),
its own loss, gradient and Adam state (Adam is element-wise, so one Adam over the stacked variables is K
independent ones). The pass is the model's explicit-weights scan (the landscape scans' stacked weights), so the
gradient comes from TensorFlow's autodiff instead of the hand-written backward pass: the same maths, different
float rounding, so a member follows the single run of its seed to rounding over the first steps and may drift
from it later along a chaotic trajectory (tests/test_ensemble.py measures it).

On a CPU core stacking buys 1.1-1.4x (issue 32's measurement); on a GPU it is what fills the device.
"""

from __future__ import annotations

import tensorflow as tf

from ..errors import UsageError
from ..models.rnn import uniforms_from_seed
from .losses import StepSpec, ground_state_threshold, local_losses, step_sums

__all__ = ["EnsembleStep", "stack_weights"]


def stack_weights(models) -> dict:
    """The members' weights stacked as the scan's point axis: kernels ``[K, rows, d]``, biases ``[K, 1, d]``."""
    names = list(models[0].rnn_cell.weight_dict())
    out = {}
    for name in names:
        values = [m.rnn_cell.weight_dict()[name] for m in models]
        stacked = tf.stack([tf.convert_to_tensor(v) for v in values])
        out[name] = stacked if len(values[0].shape) == 2 else stacked[:, None, :]
    return out


class EnsembleStep:
    """A compiled training step for K networks of one architecture.

    Args:
        model: a network of the ensemble's architecture (its own weights are not used: the pass takes the
            stacked ones).
        seeds: the members' seeds (their initial weights are those of ``build`` of each seed).
        spec: a :class:`~nm_tf.annealing.losses.StepSpec` (VCA or VQA, with or without mini-batches, penalty;
            not SR, stale losses, clipping or sampled flips yet).
        initial: ``{name: stacked array}`` initial weights (:func:`stack_weights` of the members' networks).
        lr: Adam's learning rate.

    ``step(s, T, gamma)`` trains every member one training step (its samples from ``[seed_k, s]``) and returns
    per-member metrics ``[K]``: ``loss`` and ``energy`` per spin, ``entropy``, ``ground_state_fraction``,
    ``grad_norm``, ``finite`` (a member whose loss or gradient is not finite gets a zero gradient, as a single run
    does).
    """

    def __init__(self, model, seeds, spec: StepSpec, initial: dict, lr: float, jit_compile: bool = True):
        if spec.sr_shift is not None or spec.local_loss != "fresh" or spec.clip_norm or spec.flip_samples \
                or spec.baseline_scale != 1.0:
            raise UsageError("an ensemble step does not yet support SR, stale losses, gradient clipping, sampled "
                             "flips or a baseline scale other than 1")
        self.model, self.spec = model, spec
        self.seeds = tf.constant([int(s) for s in seeds], tf.int64)
        self.K = len(seeds)
        dt = model.rnn_cell.compute_dtype
        self.weights = {k: tf.Variable(tf.cast(v, dt), name=f"ensemble_{k}") for k, v in initial.items()}
        self.variables = list(self.weights.values())
        self.optimizer = tf.keras.optimizers.Adam(lr)
        self.optimizer.build(self.variables)
        self._step = tf.function(self._step_impl, jit_compile=jit_compile)

    def __call__(self, s: int, T: float, gamma: float) -> dict:
        dt = self.model.rnn_cell.compute_dtype
        out = self._step(tf.constant(int(s), tf.int64), tf.constant(T, dt), tf.constant(gamma, dt))
        return {k: v.numpy() for k, v in out.items()}

    def member_weights(self, k: int) -> dict:
        """Member ``k``'s weights, shaped as a single network's (``RNN2DCell.weight_dict``)."""
        return {name: (v[k] if name.endswith("kernel") else v[k, 0]) for name, v in self.weights.items()}

    def _uniforms(self, s, n):
        L = self.model.L
        dt = self.model.rnn_cell.compute_dtype
        return tf.stack([uniforms_from_seed([L, L, n], tf.stack([self.seeds[k], s]), dt) for k in range(self.K)],
                        axis=2)                                                   # [L, L, K, n]

    def _step_impl(self, s, T, gamma):
        m, spec, w = self.model, self.spec, self.weights
        n = spec.num_samples
        nb = spec.minibatch or n
        dt = m.rnn_cell.compute_dtype
        ground_below = ground_state_threshold(m.L, spec.J, dt)
        bits = None
        if spec.minibatch:            # drawn once at the step's starting weights (Table I's order)
            bits = m.scan(n, uniforms=self._uniforms(s, n), weights=dict(w))[0]      # [K, n, N] (no gradient)
        sums = tf.zeros([5, self.K], dt)
        gnorm = tf.zeros([self.K], dt)
        finite = tf.ones([self.K], tf.bool)
        for k in range(n // nb):
            with tf.GradientTape() as tape:
                if bits is None:
                    part, lp = m.scan(n, uniforms=self._uniforms(s, n), weights=dict(w), stacked_backprop=True)
                else:
                    part = bits[:, k * nb:(k + 1) * nb]
                    lp = m.scan(nb, given=m.sites_to_steps(part), weights=dict(w), stacked_backprop=True)[1]
                loc, e = local_losses(m, part, lp, T, gamma, quantum=spec.quantum, J=spec.J,
                                      flip_chunk=spec.flip_chunk, penalty=spec.penalty, weights=dict(w))
                per_member = tf.reduce_mean((loc - tf.reduce_mean(loc, axis=1, keepdims=True)) * lp, axis=1)
                total = tf.reduce_sum(per_member)
            grads = tape.gradient(total, self.variables)
            norm = tf.sqrt(tf.add_n([tf.reduce_sum(tf.reshape(g, [self.K, -1]) ** 2, axis=1) for g in grads]))
            ok = tf.math.is_finite(norm) & tf.math.is_finite(tf.reduce_mean(loc, axis=1))
            grads = [tf.where(tf.reshape(ok, [self.K] + [1] * (len(g.shape) - 1)), g, tf.zeros_like(g))
                     for g in grads]
            self.optimizer.apply(grads, self.variables)
            sums += step_sums(loc, e, lp, ground_below, axis=1)
            gnorm, finite = tf.maximum(gnorm, norm), finite & ok
        N = float(m.n_sites)
        mean_e = sums[1] / n
        return {"loss": sums[0] / n / N, "energy": mean_e / N,
                "energy_std": tf.sqrt(tf.maximum(sums[2] / n - mean_e ** 2, 0.0)) / N,
                "entropy": -sums[3] / n / N, "ground_state_fraction": sums[4] / n, "grad_norm": gnorm,
                "finite": finite}
