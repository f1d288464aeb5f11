"""Keras layer for one site of the 2D RNN (paper Eq. 4), vanilla ELU or gated."""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops
from ..errors import UsageError

__all__ = ["RNN2DCell", "CELL_TYPES", "INITS", "bit_log_prob", "bit_logit_weights", "closing_onehots",
           "d_bit_log_prob_dz", "prob_of_one"]

from .options import CELL_TYPES, CLOSING_INPUTS, INITS  # noqa: E402 - re-exported; their owner is options


def prob_of_one(z, floor: float = 0.0):
    """``p(bit = 1)`` from its logit ``z``; with ``floor > 0`` each of the two probabilities gets
    ``+floor`` and the pair is renormalised (the authors' ``softmax + 1e-8``), so no conditional is 0."""
    p = tf.sigmoid(z)
    return p if not floor else (p + floor) / (1.0 + 2.0 * floor)


def bit_log_prob(z, bits, floor: float = 0.0):
    """``log p(bit)`` of float ``bits`` from the logit ``z`` of bit 1 (see :func:`prob_of_one`).

    This is the one definition of the conditional's log-probability: the sampler, teacher forcing, the
    single-flip suffix passes and (through :func:`d_bit_log_prob_dz`) the hand-written backward pass use it.
    """
    sz = (2.0 * bits - 1.0) * z
    if not floor:
        return tf.math.log_sigmoid(sz)
    return tf.math.log(tf.sigmoid(sz) + floor) - math.log1p(2.0 * floor)


def d_bit_log_prob_dz(z, bits, floor: float = 0.0):
    """``d bit_log_prob / dz``: ``bit - sigmoid(z)``, or with a floor ``s q (1 - q) / (q + floor)`` with
    ``s = 2 bit - 1`` and ``q = sigmoid(s z)``."""
    if not floor:
        return bits - tf.sigmoid(z)
    s = 2.0 * bits - 1.0
    q = tf.sigmoid(s * z)
    return s * q * (1.0 - q) / (q + floor)


def closing_onehots(first_oh, close_steps):
    """The closing cell's four inputs of the last row's steps, ``[L, *S, 4]``: the one-hots of ``(x_j, 0)`` and
    ``(x_j - 1, 0)`` gathered from row 0's one-hots ``first_oh [L, *S, 2]`` (visiting order) at the steps
    ``close_steps [2, L]`` (:attr:`NewmanMooreRNN._close_steps`); shared by the forward and backward passes."""
    return tf.concat([tf.gather(first_oh, close_steps[0]), tf.gather(first_oh, close_steps[1])], -1)


def bit_logit_weights(out_kernel, out_bias):
    """``(u [d], c)`` with ``h . u + c`` the logit of bit 1: the two-way softmax of the conditional
    (``out_kernel [d, 2]``, ``out_bias [2]``; index 1 = bit 1) depends only on the difference."""
    return out_kernel[:, 1] - out_kernel[:, 0], out_bias[1] - out_bias[0]


@keras.saving.register_keras_serializable(package="nm_tf")
class RNN2DCell(keras.layers.Layer):
    """One 2D-RNN site update and its conditional distribution.

    Vanilla (the paper's Eq. 4)::

        h = ELU(W_h [h_horiz; s_horiz] + W_v [h_up; s_up] + c)

    with ``W_h`` and ``W_v`` stored stacked as one kernel ``[2 (d_h + 2), d_h]``
    (input order ``[h_horiz, s_horiz, h_up, s_up]``). The triangle cell also sees the site up and to the
    right, ``(x + 1 mod L, y - 1)``, the other parent of the downward triangle that fixes ``(x, y)`` in a
    ground state (``b(x, y) = 1 xor b(x, y-1) xor b(x+1, y-1)``)::

        h = ELU(W_h [h_horiz; s_horiz] + W_v [h_up; s_up] + W_r [h_upright; s_upright] + c)

    (kernel ``[3 (d_h + 2), d_h]``, one Glorot draw, zero bias: 5 202 + 40 + 82 = 5 324 parameters at
    ``d_h = 40`` against 3 482 for the vanilla cell). The closing cell is the triangle cell with four more
    inputs, the one-hots ``s_close`` of ``(x, 0)`` and ``(x - 1, 0)``, zeros in every row but the last::

        h = ELU(W_h [h_horiz; s_horiz] + W_v [h_up; s_up] + W_r [h_upright; s_upright] + W_c s_close + c)

    On the periodic lattice the triangles anchored in row ``L - 1`` close through row 0: a ground state's last
    row must also satisfy ``b(x, 0) xor b(x, L-1) xor b(x+1, L-1) = 1``, which the other cells can only learn by
    carrying row 0 through ``L - 1`` hidden states (5 324 + 160 = 5 484 parameters at ``d_h = 40``). The gated
    option mixes the candidate with the mean of the two incoming states::

        z = sigmoid(W_z x + c_z);  h = z * ELU(W x + c) + (1 - z) * (h_horiz + h_up) / 2

    The conditional is ``softmax(U h + b)`` over the bit ``b in {0, 1}``
    (Eq. 3; index 1 = bit 1 = spin down).

    Args:
        hidden: hidden size ``d_h`` (paper: 40).
        cell: ``"vanilla"`` or ``"gru"``.
        seed: seed of the weight initialisation.
        init: ``"glorot"`` (ours) or ``"authors"`` (see :data:`INITS`). Parameters either way:
            ``2 (d + 2) d + d`` in the cell (``x2`` for the gated cell) and ``2 d + 2`` in the output layer
            (3 482 at ``d = 40``, vanilla).

    Example:
        >>> cell = RNN2DCell(hidden=8)
        >>> h, logits = cell(keras.ops.zeros((3, 2 * (8 + 2))))  # doctest: +SKIP
    """

    def __init__(self, hidden: int = 40, cell: str = "vanilla", seed: int = 0, init: str = "glorot", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1:
            raise UsageError(f"hidden size must be a positive integer, got {hidden!r}")
        if cell not in CELL_TYPES:
            raise UsageError(f"cell must be one of {CELL_TYPES}, got {cell!r}")
        if init not in INITS:
            raise UsageError(f"Received an invalid value for argument `init`: expected one of {INITS}, got {init!r}")
        self.init = init
        self.hidden = hidden
        self.cell = cell
        self.seed = int(seed)

    @property
    def input_size(self) -> int:
        pairs = 3 if self.cell in ("triangle", "closing") else 2        # [h; onehot] pairs of neighbours
        return pairs * (self.hidden + 2) + (CLOSING_INPUTS if self.cell == "closing" else 0)

    def build(self, input_shape=None):
        d, k = self.hidden, self.input_size
        # Explicit, distinct seeds per matrix: construction is reproducible.
        init = lambda k: keras.initializers.GlorotUniform(seed=3 * self.seed + k)  # noqa: E731
        if self.init == "authors":
            # Two Glorot draws of [d + 2, d] (W_h, W_v stacked) and a Glorot bias (fan = d), as the authors' code.
            def kernel_init(shape, dtype=None):
                half = keras.initializers.GlorotUniform(seed=3 * self.seed + 100)((k // 2, d), dtype=dtype)
                other = keras.initializers.GlorotUniform(seed=3 * self.seed + 101)((k // 2, d), dtype=dtype)
                return ops.concatenate([half, other], axis=0)

            bias_init = keras.initializers.GlorotUniform(seed=3 * self.seed + 102)
        else:
            kernel_init, bias_init = init(0), "zeros"
        self.kernel = self.add_weight(name="kernel", shape=(k, d), initializer=kernel_init)
        self.bias = self.add_weight(name="bias", shape=(d,), initializer=bias_init)
        if self.cell == "gru":
            self.gate_kernel = self.add_weight(name="gate_kernel", shape=(k, d), initializer=init(1))
            self.gate_bias = self.add_weight(name="gate_bias", shape=(d,), initializer="zeros")
        self.out_kernel = self.add_weight(name="out_kernel", shape=(d, 2), initializer=init(2))
        self.out_bias = self.add_weight(name="out_bias", shape=(2,), initializer="zeros")
        self.built = True

    def weight_dict(self) -> dict:
        """The weights by name: kernel, bias, out_kernel, out_bias [, gate_kernel, gate_bias]."""
        names = ["kernel", "bias", "out_kernel", "out_bias"]
        if self.cell == "gru":
            names += ["gate_kernel", "gate_bias"]
        return {n: getattr(self, n) for n in names}

    def assign_weight_dict(self, weights: dict):
        """Set the weights from a :meth:`weight_dict`-shaped mapping of arrays (e.g. weights kept along a run);
        one line naming the mismatch when it belongs to another network."""
        own = self.weight_dict()
        if set(weights) != set(own) or any(tuple(weights[k].shape) != tuple(v.shape) for k, v in own.items()):
            raise UsageError("the weights do not match the model's (another network?)")
        for name, var in own.items():
            var.assign(weights[name])

    def apply(self, x, w):
        """One update with explicit weights ``w`` (a :meth:`weight_dict`-shaped mapping).

        The weights may carry a leading "point" axis: with ``x`` of shape
        ``[P, B, K]``, kernels ``[P, K, d]`` and biases ``[P, 1, d]`` evaluate P
        weight settings in one batched matmul (used by loss-landscape scans).
        """
        h = ops.elu(ops.matmul(x, w["kernel"]) + w["bias"])
        if self.cell == "gru":
            d = self.hidden
            z = ops.sigmoid(ops.matmul(x, w["gate_kernel"]) + w["gate_bias"])
            mean_in = 0.5 * (x[..., :d] + x[..., d + 2: 2 * d + 2])
            h = z * h + (1.0 - z) * mean_in
        return h, ops.matmul(h, w["out_kernel"]) + w["out_bias"]

    def call(self, x):
        """One update.

        Args:
            x: ``[B, 2 (d_h + 2)]``, the concatenation ``[h_horiz, onehot_horiz, h_up, onehot_up]``
               (zeros at borders), with ``[h_upright, onehot_upright]`` after them for the triangle cell, and the
               closing cell's four row-0 inputs after those.

        Returns:
            ``(h [B, d_h], logits [B, 2])``.
        """
        return self.apply(x, self.weight_dict())

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden, "cell": self.cell, "seed": self.seed,
                "init": self.init}
