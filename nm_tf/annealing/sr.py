"""Stochastic reconfiguration (natural gradient) as a preconditioner of the training step's gradient.

The step's gradient is ``g = mean[(L_loc - mean L_loc) O]`` with ``O = d log p / d theta`` the per-sample score
(VCA: the free energy's; VQA with ``psi = sqrt(p)``: the energy's). SR replaces it by

    delta = (S + eps I)^{-1} g,     S = c Cov(O)     (c = 1 for VCA: the Fisher matrix of p;
                                                      c = 1/4 for VQA: the quantum geometric tensor of psi)

and the optimiser (plain SGD for ``--optimizer sr``) takes ``delta`` as its gradient. With ``B`` samples per
update and ``P`` parameters (Table I: B = 10 or 100 against P = 3 482), ``S`` has rank < B, so the solve is made
in sample space (minSR): with ``X = (O - mean O) / sqrt(B)`` ``[B, P]`` and ``e = (L_loc - mean L_loc) / sqrt(B)``,
``g = X^T e`` and, by the push-through identity,

    delta = X^T (c X X^T + eps I_B)^{-1} e,

one ``B x B`` solve per update instead of a ``P x P`` one (an ensemble: one per member, batched; a system whose
Cholesky factor fails in float64 is solved from QR factors of ``X`` instead: :func:`sr_solve`). The per-sample
scores come from one teacher-forced pass: for the vanilla, triangle and closing cells, the hand-written backward
pass (:mod:`nm_tf.models.backprop`) keeps the sample axis in its final contractions (its reverse sweep is per sample
already); otherwise (GRU, or a model built without it) TensorFlow's autodiff through a pass with the weights tiled
along the model's "point" axis (one copy per sample, as the landscape scans stack weights), so that one backward
pass gives every sample's own gradient.
"""

from __future__ import annotations

import math

import tensorflow as tf

__all__ = ["per_sample_scores", "stacked_per_sample_scores", "sr_direction", "sr_solve", "QGT_FACTOR"]

QGT_FACTOR = {False: 1.0, True: 0.25}    # quantum: S of psi = sqrt(p) is 1/4 of the Fisher matrix of p
_NAMES = ("kernel", "bias", "out_kernel", "out_bias")


def per_sample_scores(model, bits, variables):
    """``d log p(bits_b) / d theta`` for every sample: ``[B, P]`` (``P`` = total size of ``variables``, in
    their order; ``variables`` must be the cell's weights, e.g. ``model.trainable_variables``)."""
    named = model.rnn_cell.weight_dict()
    name_of = {id(v): k for k, v in named.items()}
    grads = _scores(model, bits, {k: tf.convert_to_tensor(v) for k, v in named.items()}, stacked=False)
    B = tf.shape(bits)[0]
    return tf.concat([tf.reshape(grads[name_of[id(v)]], [B, -1]) for v in variables], axis=1)


def stacked_per_sample_scores(model, bits, weights):
    """An ensemble's scores: ``weights`` stacked as :func:`nm_tf.annealing.ensemble.stack_weights` stacks them
    (``{name: [K, ...]}``), ``bits [K, B, N]`` (member k's samples); returns ``[K, B, P]``, each member's
    parameters flattened in the order of ``weights``' keys."""
    grads = _scores(model, bits, {k: tf.convert_to_tensor(v) for k, v in weights.items()}, stacked=True)
    K, B = tf.shape(bits)[0], tf.shape(bits)[1]
    return tf.concat([tf.reshape(grads[k], [K, B, -1]) for k in weights], axis=2)


def _scores(model, bits, w, stacked: bool) -> dict:
    """Per-sample gradients of ``log p`` by weight name, with the sample axes of ``bits`` (``[B]`` or ``[K, B]``)
    leading."""
    lead = tf.shape(bits)[:-1]
    B = lead[-1]
    if model.hand_written_backprop:
        from ..models.backprop import log_prob_grads

        _, _, hs, step_bits = model._scan_loop(B, None, model.sites_to_steps(bits), w, batched=stacked, keep=True)
        return dict(zip(_NAMES, log_prob_grads(hs, step_bits, tf.ones(lead, hs.dtype), w["kernel"],
                                               w["out_kernel"], w["out_bias"], **model.backprop_options(),
                                               per_sample=True)))
    # Autodiff: one copy of the weights per sample along the scan's point axis, so that one backward pass gives
    # every sample's own gradient (an ensemble's member k repeated for each of its samples).
    if stacked:
        tiled = {k: tf.repeat(v, B, axis=0) for k, v in w.items()}
    else:
        tiled = {k: tf.tile(v[None] if len(v.shape) == 2 else v[None, None], [B, 1, 1]) for k, v in w.items()}
    flat = tf.reshape(bits, [-1, 1, model.n_sites])
    with tf.GradientTape() as tape:
        tape.watch(list(tiled.values()))
        _, log_p = model.scan(1, given=model.sites_to_steps(flat), weights=tiled)   # [points, 1]
        total = tf.reduce_sum(log_p)
    grads = tape.gradient(total, tiled)
    return {k: tf.reshape(g, tf.concat([lead, [-1]], 0)) for k, g in grads.items()}


def sr_solve(scores, loc, shift: float, quantum: bool, report: bool = False):
    """``(S + shift I)^{-1} g`` flattened, ``[..., P]``, by minSR (see the module docstring).

    Args:
        scores: ``[..., B, P]`` per-sample scores (:func:`per_sample_scores`; an ensemble's ``[K, B, P]``, one
            solve per member).
        loc: ``[..., B]`` local losses of the same samples (the baseline is their mean).
        shift: the diagonal shift ``eps > 0``.
        quantum: VQA (``c = 1/4``) or VCA (``c = 1``).
        report: also return, per system (``[...]``, bool), whether it was solved from QR factors because its
            Cholesky factor failed (the training step counts these: ``sr_qr_solves`` in the summary).
    """
    dt = scores.dtype
    # The B x B system in float64: its condition number is up to ~ max eigenvalue / shift.
    o = tf.cast(scores, tf.float64)
    b = tf.cast(tf.shape(o)[-2], tf.float64)
    x = (o - tf.reduce_mean(o, axis=-2, keepdims=True)) / tf.sqrt(b)
    loc = tf.cast(loc, tf.float64)
    e = (loc - tf.reduce_mean(loc, axis=-1, keepdims=True)) / tf.sqrt(b)
    c = QGT_FACTOR[bool(quantum)]
    gram = c * tf.matmul(x, x, transpose_b=True) + shift * tf.eye(tf.shape(x)[-2], dtype=tf.float64)
    chol = tf.linalg.cholesky(gram)
    delta = tf.matmul(x, tf.linalg.cholesky_solve(chol, e[..., None]), transpose_a=True)[..., 0]
    # Forming x x^T squares x's condition number. When the scores span more than ~8 decades (the ELU hidden
    # states of a VQA network near the uniform state grow until d log p / d out_kernel reaches 1e6 while other
    # scores stay near 1e-2), c x x^T + shift I is no longer positive definite in float64 and the Cholesky
    # factor comes back as NaN. Those systems (and only those: a solve that factored keeps its numbers) are solved
    # as the ridge least-squares problem they are, from QR factors of x itself (see _solve_by_qr).
    ok = tf.reduce_all(tf.math.is_finite(chol), axis=[-2, -1])          # per system (an ensemble: per member)
    delta = tf.cond(tf.reduce_all(ok), lambda: delta,
                    lambda: tf.where(ok[..., None], delta, _solve_by_qr(x, e, c, shift)))
    return (tf.cast(delta, dt), tf.logical_not(ok)) if report else tf.cast(delta, dt)


def _solve_by_qr(x, e, c: float, shift: float):
    """``x^T (c x x^T + shift I)^{-1} e`` without forming ``x x^T``: it is ``argmin_d |sqrt(c) x d - e / sqrt(c)|^2
    + shift |d|^2`` (ridge regression), and with ``x^T = q r`` (``q [..., P, k]``, ``r [..., k, B]``, ``k = min(P,
    B)``), ``d = q z`` where ``z`` solves the small stacked least-squares problem ``[sqrt(c) r^T; sqrt(shift) I_k] z
    = [e / sqrt(c); 0]``, by a second QR. (An SVD of x does the same, but XLA's Jacobi SVD takes 0.5 s at B = 100 on
    this CPU, the QR route 0.05-0.08 s.)"""
    q, r = tf.linalg.qr(tf.linalg.matrix_transpose(x))       # k = min(P, B): q [..., P, k], r [..., k, B]
    k = tf.shape(r)[-2]                                       # (more samples than parameters: k = P < B)
    eye = tf.eye(k, batch_shape=tf.shape(r)[:-2], dtype=x.dtype)
    stacked = tf.concat([math.sqrt(c) * tf.linalg.matrix_transpose(r), math.sqrt(shift) * eye], axis=-2)
    rhs = tf.concat([e / math.sqrt(c), tf.zeros(tf.concat([tf.shape(e)[:-1], [k]], 0), x.dtype)], axis=-1)
    qs, rs = tf.linalg.qr(stacked)
    z = tf.linalg.triangular_solve(rs, tf.linalg.matvec(qs, rhs, transpose_a=True)[..., None], lower=False)[..., 0]
    return tf.linalg.matvec(q, z)


def sr_direction(scores, loc, shift: float, quantum: bool, variables, stacked: bool = False, report: bool = False):
    """:func:`sr_solve` as tensors shaped like ``variables``: one network's (``scores [B, P]``, ``loc [B]``), or
    with ``stacked`` an ensemble's (``scores [K, B, P]``, ``loc [K, B]``, variables with the member axis first).
    With ``report``: ``(tensors, by_qr)``, ``by_qr`` as :func:`sr_solve` gives it (``[]`` or ``[K]``)."""
    delta, by_qr = sr_solve(scores, loc, shift, quantum, report=True)    # [P] or [K, P]
    out, start = [], 0
    for v in variables:
        size = math.prod(v.shape[1:] if stacked else v.shape)    # one member's share of the variable
        out.append(tf.reshape(delta[..., start:start + size], v.shape))
        start += size
    return (out, by_qr) if report else out
