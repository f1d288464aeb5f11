"""Many seeds in one compiled step: K independent networks with their weights stacked along a leading axis.

Member ``k`` is the network of seed ``seeds[k]``: its own initialisation (that of a single run of that seed), its
own samples (the stateless uniforms ``[seeds[k], s]`` of training step ``s``, exactly those of the single run),
its own loss, gradient and Adam state (Adam is element-wise, so one Adam over the stacked variables is K
independent ones). The pass is the model's explicit-weights scan (the landscape scans' stacked weights) with the
hand-written backward pass over stacked weights: the same maths as a single run in a different float rounding,
so a member follows the single run of its seed to rounding over the first steps and may drift from it later along
a chaotic trajectory (tests/test_ensemble.py measures it).

The members' own run directories (their checkpoints, weights and summaries) are kept by
:mod:`.ensemble_run`, which copies a member's slice of the stacked weights and Adam moments into its network
(:meth:`EnsembleStep.store_member`) and back (:meth:`EnsembleStep.load_members`).

On a CPU core stacking buys 1.1-1.4x (issue 32's measurement); on a GPU it is what fills the device.
"""

from __future__ import annotations

import tensorflow as tf

from ..errors import UsageError
from ..models.rnn import uniforms_from_seed
from .losses import (StepSpec, apply_unless, flip_seed, ground_state_threshold, local_losses, sampled_flips,
                     step_sums)

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


def _stack(variables):
    """Stack Keras variables (whose ``dtype`` is a string, which ``tf.stack`` cannot read)."""
    return tf.stack([tf.convert_to_tensor(v) for v in variables])


def _moments(optimizer, variable) -> tuple:
    """The optimizer's slots of ``variable``: Adam's first and second moments, none for plain SGD (SR's). Keras 3
    has no public per-variable accessor for an optimizer's slots; Adam keeps them in these two lists, in the
    order of the variables it was built on."""
    if not isinstance(optimizer, tf.keras.optimizers.Adam):
        if getattr(optimizer, "momentum", 0.0):
            raise RuntimeError("an ensemble carries Adam's moments or none (SGD without momentum)")
        return ()
    i = optimizer._get_variable_index(variable)
    return optimizer._momentums[i], optimizer._velocities[i]


class EnsembleStep:
    """A compiled training step for K networks of one architecture.

    Args:
        model: a network of the ensemble's architecture (its own weights are not used: the pass takes the
            stacked ones).
        seeds: the members' seeds (their samples are those of the single runs of these seeds).
        spec: a :class:`~nm_tf.annealing.losses.StepSpec`: VCA or VQA, with or without mini-batches, penalty,
            gradient clipping (per member), stale local losses, a baseline scale, sampled flips and stochastic
            reconfiguration (``sr_shift``: each member's own minSR solve, batched, then plain SGD, as a single
            run's ``--optimizer sr``); not a symmetry group.
        initial: ``{name: stacked array}`` initial weights (:func:`stack_weights` of the members' networks).
        lr: Adam's learning rate (with SR: SGD's).

    ``step(s, T, gamma)`` trains every active member one training step (its samples from ``[seed_k, s]``) and
    returns per-member metrics ``[K]``: ``loss`` and ``energy`` per spin, ``energy_std``, ``entropy``,
    ``ground_state_fraction``, ``grad_norm``, ``finite`` (a member whose loss or gradient is not finite is left as
    it was, weights and Adam's moments, as a single run's skipped step is). ``active[k] = False`` freezes member
    ``k`` the same way (its metrics are still computed).
    """

    def __init__(self, model, seeds, spec: StepSpec, initial: dict, lr: float, jit_compile: bool = True):
        if spec.local_loss == "stale" and not spec.minibatch:
            raise UsageError("local_loss stale needs minibatch")
        if spec.flip_samples and not 1 <= spec.flip_samples <= model.n_sites:
            raise UsageError(f"flip_samples must be in 1..N = {model.n_sites}, got {spec.flip_samples}")
        self.model, self.spec = model, spec
        self.seeds = tf.constant([int(s) for s in seeds], tf.int64)
        self.K = len(seeds)
        dt = model.rnn_cell.compute_dtype
        self.weights = {k: tf.Variable(tf.cast(v, dt), name=f"ensemble_{k}") for k, v in initial.items()}
        self.variables = list(self.weights.values())
        self.active = tf.Variable(tf.ones([self.K], tf.bool), trainable=False, name="ensemble_active")
        # as a single run's driver: SR takes plain SGD along its direction (no slots), Adam otherwise
        self.optimizer = tf.keras.optimizers.SGD(lr) if spec.sr_shift is not None else tf.keras.optimizers.Adam(lr)
        self.optimizer.build(self.variables)
        self._step = tf.function(self._step_impl, jit_compile=jit_compile)

    def __call__(self, s: int, T: float, gamma: float) -> dict:
        # float32 like a single run's driver (the losses cast them to the compute dtype), so that a float64
        # ensemble sees the same rounded T and Gamma as the single runs of its seeds
        out = self._step(tf.constant(int(s), tf.int64), tf.constant(T, tf.float32), tf.constant(gamma, tf.float32))
        return {k: v.numpy() for k, v in out.items()}

    # ------------------------------------------------------------------ members' own networks
    def member_weights(self, k: int) -> dict:
        """Member ``k``'s weights, shaped as a single network's (``RNN2DCell.weight_dict``)."""
        return {name: (v[k] if name.endswith("kernel") else v[k, 0]) for name, v in self.weights.items()}

    def _pairs(self, model):
        """``(stacked variable, member variable)`` per weight; the member network must train exactly these."""
        own = model.rnn_cell.weight_dict()
        if {id(v) for v in model.trainable_variables} != {id(v) for v in own.values()}:
            raise RuntimeError("the network trains variables outside its cell's weight_dict; an ensemble "
                               "cannot stack them")
        return [(self.weights[name], own[name]) for name in self.weights]

    def load_members(self, models, optimizers):
        """Stack the members' weights and optimizer states (a resumed ensemble: each member restored its own
        checkpoint). The optimizers must be of the ensemble's kind (Adam, or SGD with SR), built on the members'
        variables, at one iteration."""
        iterations = {int(o.iterations.numpy()) for o in optimizers}
        if len(iterations) != 1:
            raise RuntimeError(f"the members' optimizers are at different iterations {sorted(iterations)}")
        per_member = [self._pairs(m) for m in models]
        for i, (stacked, _) in enumerate(per_member[0]):
            shape = stacked.shape
            stacked.assign(tf.reshape(_stack([p[i][1] for p in per_member]), shape))
            members = [_moments(o, p[i][1]) for o, p in zip(optimizers, per_member)]
            for j, slot in enumerate(_moments(self.optimizer, stacked)):
                slot.assign(tf.reshape(_stack([m[j] for m in members]), shape))
        self.optimizer.iterations.assign(iterations.pop())

    def store_member(self, k: int, model, optimizer):
        """Copy member ``k``'s weights and optimizer state into its own network and optimizer (for its checkpoint,
        its summary and the tools)."""
        for stacked, own in self._pairs(model):
            own.assign(tf.reshape(stacked[k], own.shape))
            for slot_e, slot in zip(_moments(self.optimizer, stacked), _moments(optimizer, own), strict=True):
                slot.assign(tf.reshape(slot_e[k], slot.shape))
        optimizer.iterations.assign(self.optimizer.iterations)

    # ------------------------------------------------------------------ the step
    def _uniforms(self, s, n):
        L = self.model.L
        dt = self.model.rnn_cell.compute_dtype
        return tf.stack([uniforms_from_seed([L, L, n], tf.stack([self.seeds[k], s]), dt) for k in range(self.K)],
                        axis=2)                                                   # [L, L, K, n]

    def _sampled_flips(self, bits, s, update):
        """log p ``[K, B, k]`` of each member's sampled single flips: the sites a single run of that seed draws
        for update ``update`` of step ``s`` (``losses.sampled_flip_log_probs``), evaluated at the stacked
        weights in one teacher-forced pass."""
        m, kf, n = self.model, self.spec.flip_samples, self.model.n_sites
        B = bits.shape[1]
        flipped = [sampled_flips(bits[k], kf, flip_seed(tf.stack([self.seeds[k], s]), update))[1]
                   for k in range(self.K)]                                                 # K x [B, kf, N]
        flipped = tf.reshape(tf.stack(flipped), [self.K, B * kf, n])
        lp = m.scan(B * kf, given=m.sites_to_steps(flipped), weights=dict(self.weights))[1]
        return tf.reshape(lp, [self.K, B, kf])

    def _losses(self, part, lp, T, gamma, s, update):
        spec = self.spec
        flips = self._sampled_flips(part, s, update) if spec.quantum and spec.flip_samples else None
        return local_losses(self.model, part, lp, T, gamma, quantum=spec.quantum, J=spec.J,
                            flip_chunk=spec.flip_chunk, penalty=spec.penalty, weights=dict(self.weights),
                            flip_log_probs=flips, flip_samples=spec.flip_samples)

    def _gradients(self, tape, surrogate, part, loc):
        """The update's stacked gradient: the surrogate's, or each member's SR direction from the same samples
        (``part [K, B, N]``, local losses ``loc [K, B]``); and per member 1.0 where SR's system had to be solved
        from QR factors (``[K]``)."""
        if self.spec.sr_shift is None:
            return tape.gradient(surrogate, self.variables), tf.zeros([self.K], loc.dtype)
        from .sr import sr_direction, stacked_per_sample_scores

        scores = stacked_per_sample_scores(self.model, part, dict(self.weights))      # [K, B, P], variables' order
        grads, by_qr = sr_direction(scores, loc, self.spec.sr_shift, self.spec.quantum, self.variables,
                                    stacked=True, report=True)
        return grads, tf.cast(by_qr, loc.dtype)

    def _update(self, grads, loc):
        """Per-member gradient norm, the NaN/inf test, clipping and the update; ``(norm, ok)`` ``[K]``."""
        K = self.K
        norm = tf.sqrt(tf.add_n([tf.reduce_sum(tf.reshape(g, [K, -1]) ** 2, axis=1) for g in grads]))
        ok = tf.math.is_finite(norm) & tf.math.is_finite(tf.reduce_sum(loc, axis=1))
        shaped = lambda x, g: tf.reshape(x, [K] + [1] * (len(g.shape) - 1))  # noqa: E731
        if self.spec.clip_norm:         # each member's own global norm, as tf.clip_by_global_norm does for one
            clip = tf.constant(self.spec.clip_norm, norm.dtype)
            grads = [g * shaped(clip / tf.maximum(norm, clip), g) for g in grads]
        keep = ok & self.active
        grads = [tf.where(shaped(keep, g), g, tf.zeros_like(g)) for g in grads]
        apply_unless(self.optimizer, grads, self.variables, keep, members=K)
        return norm, ok

    def _surrogate(self, loc, score):
        scale = tf.constant(float(self.spec.baseline_scale), loc.dtype)
        baseline = scale * tf.reduce_mean(loc, axis=1, keepdims=True)
        return tf.reduce_sum(tf.reduce_mean((loc - baseline) * score, axis=1))

    def _step_impl(self, s, T, gamma):
        m, spec, w = self.model, self.spec, self.weights
        n = spec.num_samples
        nb = spec.minibatch or n
        dt = m.rnn_cell.compute_dtype
        ground_below = ground_state_threshold(m.L, spec.J, dt)
        sums = tf.zeros([5, self.K], dt)
        gnorm, by_qr = tf.zeros([self.K], dt), tf.zeros([self.K], dt)
        finite = tf.ones([self.K], tf.bool)
        if spec.local_loss == "stale":
            # The authors' order (losses.make_train_step): the local losses of all samples once, at the step's
            # starting weights, reused by every mini-batch update; only the score is re-evaluated.
            bits, lp_all = m.scan(n, uniforms=self._uniforms(s, n), weights=dict(w))
            lp_all = tf.stop_gradient(lp_all)
            loc_all, e_all = self._losses(bits, lp_all, T, gamma, s, 0)
            sums = step_sums(loc_all, e_all, lp_all, ground_below, axis=1)
            for k in range(n // nb):
                part, loc = bits[:, k * nb:(k + 1) * nb], loc_all[:, k * nb:(k + 1) * nb]
                with tf.GradientTape() as tape:
                    score = m.scan(nb, given=m.sites_to_steps(part), weights=dict(w), stacked_backprop=True)[1]
                    surrogate = self._surrogate(loc, score)
                grads, q = self._gradients(tape, surrogate, part, loc)
                norm, ok = self._update(grads, loc)
                gnorm, finite, by_qr = tf.maximum(gnorm, norm), finite & ok, by_qr + q
            return self._metrics(sums, gnorm, finite, by_qr)
        bits = None
        if spec.minibatch:            # drawn once at the step's starting weights (Table I's order)
            bits = m.scan(n, uniforms=self._uniforms(s, n), weights=dict(w))[0]      # [K, n, N] (no gradient)
        for k in range(n // nb):
            with tf.GradientTape() as tape:
                if bits is None:
                    part, lp = m.scan(n, uniforms=self._uniforms(s, n), weights=dict(w), stacked_backprop=True)
                else:
                    part = bits[:, k * nb:(k + 1) * nb]
                    lp = m.scan(nb, given=m.sites_to_steps(part), weights=dict(w), stacked_backprop=True)[1]
                loc, e = self._losses(part, lp, T, gamma, s, k)
                surrogate = self._surrogate(loc, lp)
            grads, q = self._gradients(tape, surrogate, part, loc)
            norm, ok = self._update(grads, loc)
            sums += step_sums(loc, e, lp, ground_below, axis=1)
            gnorm, finite, by_qr = tf.maximum(gnorm, norm), finite & ok, by_qr + q
        return self._metrics(sums, gnorm, finite, by_qr)

    def _metrics(self, sums, gnorm, finite, by_qr):
        n, N = self.spec.num_samples, float(self.model.n_sites)
        mean_e = sums[1] / n
        out = {"loss": sums[0] / n / N, "energy": mean_e / N,
               "energy_std": tf.sqrt(tf.maximum(sums[2] / n - mean_e ** 2, 0.0)) / N,
               "entropy": -sums[3] / n / N, "ground_state_fraction": sums[4] / n, "grad_norm": gnorm,
               "finite": finite}
        if self.spec.sr_shift is not None:
            out["sr_qr_solves"] = by_qr       # per member: the step's updates whose SR system needed QR
        return out
