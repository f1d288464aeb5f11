"""Batched loss evaluation at many points of a parameter plane.

The weights of a chunk of P grid points are stacked along a leading axis
(``theta* + alpha_p delta + beta_p eta``) and the RNN runs once over
``[P, B]`` configurations (see ``NewmanMooreRNN.scan(weights=...)``), so a
chunk costs one compiled call, with no per-point Python work or weight
assignment.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..annealing.losses import local_losses
from ..models.rnn import uniforms_from_seed
from .scan import EXACT_MAX_SITES
from ..errors import UsageError

__all__ = ["PlaneLoss", "all_states"]


def all_states(n: int) -> np.ndarray:
    """Every bit configuration of ``n`` sites: int32 ``[2^n, n]``; row ``k`` has bit ``i`` = bit i of k."""
    k = np.arange(2 ** n, dtype=np.int64)
    return ((k[:, None] >> np.arange(n)) & 1).astype(np.int32)


class PlaneLoss:
    """Loss per spin at points ``(alpha, beta)`` of the plane ``theta* + alpha delta + beta eta``.

    VCA: ``F/N = mean(E + T log p) / N``; VQA (``quantum``): the variational
    energy per spin with the transverse-field term of Eq. 7 (plus ``T log p``
    when ``T > 0``), exactly the local losses of the training step.

    Args:
        model: a :class:`~nm_tf.models.NewmanMooreRNN` (only its structure is used).
        quantum: include ``-Gamma sum_i psi(sigma^i)/psi(sigma)``.
        J: coupling.
        jit: XLA-compile the chunk evaluation.
    """

    def __init__(self, model, *, quantum: bool, J: float = 1.0, jit: bool = True, penalty: float = 0.0):
        self.model, self.quantum, self.J, self.jit = model, bool(quantum), float(J), bool(jit)
        self.penalty = float(penalty)
        self.names = list(model.rnn_cell.weight_dict())
        self.dtype = model.rnn_cell.compute_dtype
        n = model.n_sites
        self._sampled = tf.function(self._sampled_impl, jit_compile=jit)
        self._exact_fn = None
        if n <= EXACT_MAX_SITES:
            states = all_states(n)
            self._states = tf.constant(states)
            self._flip_index = tf.constant(np.arange(2 ** n)[:, None] ^ (1 << np.arange(n))[None, :])
            self._exact_fn = tf.function(self._exact_impl, jit_compile=jit)

    def settings(self) -> dict:
        """Plain values that rebuild an equivalent evaluator elsewhere (:meth:`from_settings`)."""
        m = self.model
        return {"L": m.L, "hidden": m.hidden, "cell": m.cell_type, "ordering": m.ordering_name,
                "prob_floor": m.prob_floor, "dtype": self.dtype, "quantum": self.quantum, "J": self.J, "jit": self.jit,
                "penalty": self.penalty}

    @classmethod
    def from_settings(cls, settings: dict) -> "PlaneLoss":
        from ..models import MODEL_FIELDS, build_model

        s = dict(settings)
        model = build_model({k: s[k] for k in MODEL_FIELDS if k in s}, jit_compile=False)
        for k in MODEL_FIELDS:
            s.pop(k, None)
        return cls(model, **s)

    # ----------------------------------------------------------------- graph pieces
    def _weights(self, center, delta, eta, alpha, beta):
        w = {}
        for name, c, d, e in zip(self.names, center, delta, eta):
            shape = [-1] + [1] * len(c.shape)
            wp = c[None] + tf.reshape(alpha, shape) * d[None] + tf.reshape(beta, shape) * e[None]
            w[name] = wp[:, None, :] if len(c.shape) == 1 else wp   # biases broadcast over B
        return w

    def _sampled_impl(self, center, delta, eta, alpha, beta, seeds, T, gamma, num_samples: int,
                      quantum: bool):
        m, dt = self.model, self.dtype
        n = m.n_sites
        w = self._weights(center, delta, eta, alpha, beta)
        u = tf.map_fn(lambda s: uniforms_from_seed([m.L, m.L, num_samples], s, dt), seeds,
                      fn_output_signature=dt)                           # [P, L, L, B]
        u = tf.transpose(u, [1, 2, 0, 3])
        flipped = None
        if quantum:   # the flip amplitudes reuse this pass's hidden states (no second pass over the samples)
            bits, log_p, hs, step_bits = m.scan(num_samples, uniforms=u, weights=w, keep=True)
            flipped = m.single_flip_log_probs(bits, weights=w, kept=(hs, step_bits))
        else:
            bits, log_p = m.scan(num_samples, uniforms=u, weights=w)
        loc, _ = local_losses(m, bits, log_p, T, gamma, quantum=quantum, J=self.J, penalty=self.penalty,
                              weights=w, flip_log_probs=flipped)       # the training step's estimator
        return tf.reduce_mean(loc, axis=1) / n

    def _exact_impl(self, center, delta, eta, alpha, beta, T, gamma, quantum: bool):
        m = self.model
        n, count = m.n_sites, 2 ** m.n_sites
        w = self._weights(center, delta, eta, alpha, beta)
        points = tf.shape(alpha)[0]
        bits = tf.tile(self._states[None], [points, 1, 1])                        # [P, S, N]
        _, log_p = m.scan(count, given=m.sites_to_steps(bits), weights=w)        # [P, S]
        flipped = tf.gather(log_p, self._flip_index, axis=1) if quantum else None
        loc, _ = local_losses(m, bits, log_p, T, gamma, quantum=quantum, J=self.J, penalty=self.penalty,
                              flip_log_probs=flipped)                            # the training step's estimator
        # Expectation over p. A local loss can overflow only where p underflows to exactly 0 (a ratio
        # psi(flip)/psi > e^88 needs log p < -176 in float32, and e^-176 is 0): those states weigh 0.
        p = tf.exp(log_p)
        weighted = lambda x: tf.reduce_sum(tf.where(p > 0, p * x, tf.zeros_like(x)), axis=1)  # noqa: E731
        mean = weighted(loc)
        var = weighted((loc - mean[:, None]) ** 2)
        return mean / n, tf.sqrt(tf.maximum(var, 0.0)) / n

    # ----------------------------------------------------------------- public
    def _args(self, center, delta, eta, alpha, beta):
        dt = self.dtype
        as_list = lambda d: [tf.constant(np.asarray(d[k]), dtype=dt) for k in self.names]  # noqa: E731
        return (as_list(center), as_list(delta), as_list(eta), tf.constant(np.asarray(alpha), dtype=dt),
                tf.constant(np.asarray(beta), dtype=dt))

    def sampled(self, center, delta, eta, alpha, beta, seeds, T: float, gamma: float, num_samples: int):
        """Sampled loss per spin at each point.

        Args:
            center, delta, eta: ``{weight name: array}``.
            alpha, beta: ``[P]`` plane coordinates.
            seeds: int64 ``[P, 2]``: stateless seed of each point's ``num_samples`` samples.
            T, gamma: temperature and transverse field of the loss.

        Returns:
            float64 ``[P]``.
        """
        quantum = self.quantum and gamma != 0.0   # Gamma = 0: the flip term vanishes
        out = self._sampled(*self._args(center, delta, eta, alpha, beta),
                            tf.constant(np.asarray(seeds, dtype=np.int64)), tf.constant(T, self.dtype),
                            tf.constant(gamma, self.dtype), int(num_samples), quantum)
        return out.numpy().astype(np.float64)

    def exact(self, center, delta, eta, alpha, beta, T: float, gamma: float):
        """Exact loss per spin (sum over all ``2^N`` states, ``N <= 16``) and the exact
        standard deviation of one sample's local loss per spin: ``([P], [P])``."""
        if self._exact_fn is None:
            raise UsageError(f"exact landscapes enumerate 2^N states; N = {self.model.n_sites} > "
                             f"{EXACT_MAX_SITES} is too large")
        quantum = self.quantum and gamma != 0.0
        mean, std = self._exact_fn(*self._args(center, delta, eta, alpha, beta),
                                   tf.constant(T, self.dtype), tf.constant(gamma, self.dtype), quantum)
        return mean.numpy().astype(np.float64), std.numpy().astype(np.float64)
