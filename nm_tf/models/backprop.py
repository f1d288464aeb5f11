"""Hand-written backward pass of ``log p`` for the vanilla ELU 2D RNN and the triangle and closing cells.

Why: the autodiff gradient of the row loop cost ~3x the forward pass under XLA
(accumulators and several tiny kernels per site). The bits are constants
(sampled or given), so ``d log p / d theta`` needs only

* ``z = h . (U_1 - U_0) + (c_1 - c_0)``, the logit of bit 1, and
  ``d log p / d z = bit - sigmoid(z)`` (:func:`~.cell.d_bit_log_prob_dz`, also with a probability floor);
* one reverse sweep for ``dpre = d/d(pre-activation)``: per site
  ``dh = dz u + dpre_next W_hh^T + dpre_below W_vh^T`` and
  ``dpre = dh * ELU'(pre)`` with ``ELU'(pre) = 1 if h > 0 else h + 1``; the
  row-below term is one matmul per row; with ``raster-wrap`` the last site of a row also
  feeds the first site of the next row through ``W_hh``; the triangle cell's site also feeds the site
  below and to the left through ``W_rh`` (it is that site's up-right parent), one more matmul per row; the
  closing cell's row-0 inputs are bits (constants), so they add nothing to the sweep, only kernel rows;
* the weight gradients as bulk contractions over all sites at the end.

Shapes: ``hs [L, L, B, d]`` and ``bits [L, L, B]`` in visiting order (row, step).
"""

from __future__ import annotations

import tensorflow as tf

from .cell import bit_logit_weights, closing_onehots, d_bit_log_prob_dz

__all__ = ["log_prob_grads"]


def _shift_right(x, wrap: bool):
    """Along the step axis (1): the previous site of the row, zeros before the first; with ``wrap`` the
    previous site in visiting order (the last site of the row above at a row start, zeros at step 0)."""
    if not wrap:
        return tf.pad(x[:, :-1], [[0, 0], [1, 0]] + [[0, 0]] * (len(x.shape) - 2))
    shape = tf.shape(x)
    flat = tf.reshape(x, tf.concat([[shape[0] * shape[1]], shape[2:]], 0))
    flat = tf.pad(flat[:-1], [[1, 0]] + [[0, 0]] * (len(x.shape) - 2))
    return tf.reshape(flat, shape)


def _upright_shift(row: int, reverse: bool) -> int:
    """The ``tf.roll`` shift that aligns row ``row``'s up-right parents with its steps (as
    :meth:`~nm_tf.models.rnn.NewmanMooreRNN._upright`)."""
    return 2 * (row % 2) - 1 if reverse else -1


def log_prob_grads(hs, bits, upstream, kernel, out_kernel, out_bias, *, reverse: bool, wrap: bool = False,
                   floor: float = 0.0, triangle: bool = False, close_steps=None, per_sample: bool = False):
    """Gradients of ``sum_b upstream_b log p_b`` with respect to the vanilla cell's weights.

    Args:
        hs: hidden states ``[L, L, B, d]`` in visiting order.
        bits: float bits ``[L, L, B]`` in visiting order.
        upstream: ``[B]`` gradient flowing into ``log p``.
        kernel: ``[2 (d + 2), d]`` (rows ``[h_horiz, s_horiz, h_up, s_up]``), or ``[3 (d + 2), d]`` with
            ``triangle`` (then ``[h_upright, s_upright]`` follow).
        out_kernel: ``[d, 2]``; out_bias: ``[2]``.
        reverse: zigzag ordering (each row visited opposite to the one before).
        wrap: raster-wrap ordering (a row's first site sees the previous row's last site).
        floor: the model's probability floor (:func:`~.cell.prob_of_one`).
        close_steps: the closing cell's ``[2, L]`` row-0 steps of the last row's closing inputs (then the kernel
            has four more rows; :meth:`~nm_tf.models.rnn.NewmanMooreRNN._closing_input`), or None.

    Stacked weights (an ensemble, :mod:`nm_tf.annealing.ensemble`): a leading point axis ``P`` on the weights
    (``kernel [P, rows, d]``, ``out_kernel [P, d, 2]``, ``out_bias [P, 1, 2]``), on the states
    (``hs [L, L, P, B, d]``, ``bits [L, L, P, B]``) and on ``upstream [P, B]``; the gradients then carry it too
    (biases ``[P, 1, d]``, ``[P, 1, 2]``): the same recurrences, one more batch axis.

    ``per_sample``: every sample's own gradient, with a ``B`` axis (``d_kernel [B, rows, d]``, ``d_bias [B, d]``,
    ``d_out_kernel [B, d, 2]``, ``d_out_bias [B, 2]``; stacked weights: ``[P, B, ...]``): the reverse sweep is per
    sample already, so only the final contractions keep the sample axis (the scores of stochastic
    reconfiguration, :mod:`nm_tf.annealing.sr`, for one network or an ensemble's members).

    Returns:
        ``(d_kernel, d_bias, d_out_kernel, d_out_bias)``.
    """
    L, d = hs.shape[0], hs.shape[-1]
    stacked = len(kernel.shape) == 3
    if stacked:
        u, c = out_kernel[..., 1] - out_kernel[..., 0], out_bias[..., 1] - out_bias[..., 0]      # [P, d], [P, 1]
        z = tf.einsum("yjpbd,pd->yjpb", hs, u) + c
    else:
        u, c = bit_logit_weights(out_kernel, out_bias)
        z = tf.tensordot(hs, u, 1) + c
    dz = upstream * d_bit_log_prob_dz(z, bits, floor)                        # [L, L, (P,) B]
    if per_sample:
        d_u = tf.einsum("yjpb,yjpbd->pbd" if stacked else "yjb,yjbd->bd", dz, hs)
        dz_sum = tf.reduce_sum(dz, axis=[0, 1])
        d_out_kernel = tf.stack([-d_u, d_u], axis=-1)
        d_out_bias = tf.stack([-dz_sum, dz_sum], axis=-1)
    elif stacked:
        d_u = tf.einsum("yjpb,yjpbd->pd", dz, hs)
        dz_sum = tf.reduce_sum(dz, axis=[0, 1, 3])
        d_out_kernel = tf.stack([-d_u, d_u], axis=-1)
        d_out_bias = tf.stack([-dz_sum, dz_sum], axis=-1)[:, None, :]
    else:
        d_u = tf.einsum("yjb,yjbd->d", dz, hs)
        dz_sum = tf.reduce_sum(dz)
        d_out_kernel = tf.stack([-d_u, d_u], axis=1)
        d_out_bias = tf.stack([-dz_sum, dz_sum])

    transpose = tf.linalg.matrix_transpose
    w_hh_t = transpose(kernel[..., :d, :])
    w_vh_t = transpose(kernel[..., d + 2:2 * d + 2, :])
    w_rh_t = transpose(kernel[..., 2 * d + 4:3 * d + 4, :]) if triangle else None
    elu_grad = tf.where(hs > 0, tf.ones_like(hs), hs + 1.0)
    dz_u = dz[..., None] * (u[:, None, :] if stacked else u)                # [L, L, (P,) B, d]

    def right(x, w):
        """``x [steps, (P,) B, d] @ w [(P,) d, e]``."""
        return tf.einsum("jpbd,pde->jpbe", x, w) if stacked else tf.einsum("jbd,de->jbe", x, w)

    def body(k, below_next, out):
        y = L - 1 - k
        # Row y+1's site at step j sits below row y's site at step L-1-j (zigzag) or j (raster).
        aligned = right(below_next, w_vh_t)
        if triangle:
            # row y+1's step j saw aligned[j - s] as its up-right parent (s: that row's roll), so the gradient
            # of aligned[i] collects step i + s's: a roll by -s.
            s = (2 * ((y + 1) % 2) - 1) if reverse else -1
            aligned += tf.roll(right(below_next, w_rh_t), shift=-s, axis=0)
        below = aligned[::-1] if reverse else aligned
        direct = tf.gather(dz_u, y) + below
        grad_elu = tf.gather(elu_grad, y)
        dpre, rows = None, [None] * L
        for j in reversed(range(L)):
            if dpre is not None:
                dh = direct[j] + tf.matmul(dpre, w_hh_t)
            elif wrap:                       # the row's last site feeds the next row's first one
                dh = direct[j] + tf.matmul(below_next[0], w_hh_t)
            else:
                dh = direct[j]
            dpre = dh * grad_elu[j]
            rows[j] = dpre
        row = tf.stack(rows)
        return k + 1, row, out.write(y, row)

    zeros = tf.zeros_like(hs[0])
    _, _, dpres = tf.while_loop(lambda k, *_: k < L, body,
                                (tf.constant(0), zeros, tf.TensorArray(hs.dtype, size=L)),
                                maximum_iterations=L, parallel_iterations=1)
    dpre = dpres.stack()                                                     # [L, L, B, d]

    onehot = tf.stack([1.0 - bits, bits], axis=-1)
    above_h = hs[:-1, ::-1] if reverse else hs[:-1]
    above_oh = onehot[:-1, ::-1] if reverse else onehot[:-1]
    pad_row = [[1, 0]] + [[0, 0]] * (len(hs.shape) - 1)
    parts = [_shift_right(hs, wrap), _shift_right(onehot, wrap), tf.pad(above_h, pad_row), tf.pad(above_oh, pad_row)]
    if triangle:          # each row's up-right parents, aligned as the forward pass aligned them
        ur_h = tf.stack([tf.roll(above_h[r - 1], shift=_upright_shift(r, reverse), axis=0) for r in range(1, L)])
        ur_oh = tf.stack([tf.roll(above_oh[r - 1], shift=_upright_shift(r, reverse), axis=0) for r in range(1, L)])
        parts += [tf.pad(ur_h, pad_row), tf.pad(ur_oh, pad_row)]
    if close_steps is not None:     # the last row's row-0 one-hots, zeros in every other row
        close = closing_onehots(onehot[0], close_steps)[None]                 # [1, L, (P,) B, 4]
        parts.append(tf.pad(close, [[L - 1, 0]] + [[0, 0]] * (len(hs.shape) - 1)))
    x = tf.concat(parts, axis=-1)                                            # [L, L, B, kernel rows]
    if per_sample:
        d_kernel = tf.einsum("yjpbk,yjpbd->pbkd" if stacked else "yjbk,yjbd->bkd", x, dpre)
        d_bias = tf.reduce_sum(dpre, axis=[0, 1])
    elif stacked:
        d_kernel = tf.einsum("yjpbk,yjpbd->pkd", x, dpre)
        d_bias = tf.reduce_sum(dpre, axis=[0, 1, 3])[:, None, :]
    else:
        d_kernel = tf.einsum("yjbk,yjbd->kd", x, dpre)
        d_bias = tf.reduce_sum(dpre, axis=[0, 1, 2])
    return d_kernel, d_bias, d_out_kernel, d_out_bias
