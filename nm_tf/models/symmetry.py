"""Symmetrised distributions ``p_G(s) = mean_{g in G} p(g s)`` over exact symmetries of the model.

``G = ker A`` (``kernel``): XOR with any ``k`` in the kernel of the parity map keeps every triangle
parity, so ``H(s ^ k) = H(s)``; ``prod_{i in k} X_i`` commutes with every ZZZ term (each triangle holds
an even number of sites of ``k``) and with ``sum X``, so it is a symmetry of the quantum model too.
The ground states are one orbit of it: sampling ``p_G`` spreads any weight the network puts on one
ground state uniformly over all of them. ``kernel+translations`` adds the L^2 lattice translations
(they commute with ``A`` and map the kernel to itself, so ``G`` is ``{s -> t(s) ^ k}``,
``|G| = |ker A| L^2``).

Sampling costs the same at any ``|G|``: ``s ~ p``, then ``g`` uniform in ``G`` (a uniform translation and
a uniform combination of the kernel basis), return ``g s``. The exact ``log p_G`` needs ``|G|``
teacher-forced passes, so it is offered for ``|G| <= MAX_EXACT_GROUP``.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from ..errors import UsageError
from ..exact import kernel_basis
from ..exact.gf2 import MAX_EXACT_GROUP, SYMMETRIES, span
from ..lattice import site_index
from .chunks import map_in_chunks

__all__ = ["MAX_EXACT_GROUP", "SYMMETRIES", "SymmetryGroup", "symmetrized_flip_log_probs", "symmetrized_log_prob",
           "symmetrized_log_prob_and_score_images", "symmetrized_sample"]

GROUP_STREAM = 1 << 41   # added to seed[0] for the group draws: a stream no sampling seed uses


class SymmetryGroup:
    """The group ``G`` of a lattice size: kernel basis, translation permutations, and its elements.

    Args:
        L: linear size.
        kind: ``"none"``, ``"kernel"`` or ``"kernel+translations"``.
    """

    def __init__(self, L: int, kind: str = "kernel"):
        if kind not in SYMMETRIES:
            raise UsageError(f"symmetry must be one of {', '.join(SYMMETRIES)}, got {kind!r}")
        self.L, self.kind = int(L), kind
        n = self.L * self.L
        self.basis = (kernel_basis(self.L) if kind != "none" else np.zeros((0, n), np.uint8)).astype(np.uint8)
        if kind == "kernel+translations":
            y, x = np.divmod(np.arange(n), self.L)
            # perm[t][i]: the site whose bit lands on site i under translation t = (dx, dy).
            self.perms = np.stack([site_index(x - dx, y - dy, self.L) for dy in range(self.L)
                                   for dx in range(self.L)]).astype(np.int32)
        else:
            self.perms = np.arange(n, dtype=np.int32)[None]

    @property
    def log2_kernel(self) -> int:
        return int(self.basis.shape[0])

    @property
    def order(self) -> int:
        return (2 ** self.log2_kernel) * len(self.perms)

    def elements(self):
        """Every element as ``(perms [|G|, N] int32, masks [|G|, N] uint8)``: ``g s = s[perm] ^ mask``."""
        if self.order > MAX_EXACT_GROUP:
            raise UsageError(f"|G| = {self.order} at L={self.L} ({self.kind}) is above the bound "
                             f"{MAX_EXACT_GROUP} for the exact log p_G (one teacher-forced pass per element); "
                             f"symmetrised sampling works at any |G|")
        masks = span(self.basis)
        perms = np.repeat(self.perms, len(masks), axis=0)
        return perms, np.tile(masks, (len(self.perms), 1))

    def apply_np(self, bits, perm_index, coefficients):
        """``g s`` in NumPy for explicit group elements (per row: a translation index and kernel bits)."""
        bits = np.asarray(bits, dtype=np.uint8)
        moved = np.take_along_axis(bits, self.perms[np.asarray(perm_index)], axis=1)
        mask = (np.asarray(coefficients, dtype=np.int64) @ self.basis.astype(np.int64)) % 2
        return moved ^ mask.astype(np.uint8)


def _uniform_elements(group: SymmetryGroup, batch, seed):
    """A uniform group element per row: translation indices ``[B]`` and XOR masks ``[B, N]`` (int32)."""
    n = group.L * group.L
    seed = tf.cast(seed, tf.int64)
    t = tf.random.stateless_uniform(tf.stack([batch]), seed=seed + tf.constant([GROUP_STREAM, 0], tf.int64), minval=0,
                                    maxval=len(group.perms), dtype=tf.int32, alg="philox")
    k = group.log2_kernel
    if k == 0:
        return t, tf.zeros(tf.stack([batch, n]), tf.int32)
    c = tf.random.stateless_uniform(tf.stack([batch, k]), seed=seed + tf.constant([2 * GROUP_STREAM, 0], tf.int64),
                                    minval=0,
                                    maxval=2, dtype=tf.int32, alg="philox")
    masks = tf.math.floormod(tf.matmul(c, tf.constant(group.basis, tf.int32)), 2)
    return t, masks


def apply_uniform_elements(group: SymmetryGroup, bits, seed):
    """``g s`` for each row of ``bits`` with ``g`` uniform in ``G`` (drawn from ``seed``'s group streams)."""
    t, masks = _uniform_elements(group, tf.shape(bits)[0], seed)
    moved = tf.gather(bits, tf.gather(tf.constant(group.perms), t), batch_dims=1)
    return tf.bitwise.bitwise_xor(moved, masks)


def symmetrized_sample(model, group: SymmetryGroup, num_samples, seed):
    """``(bits [B, N] int32, log p of the drawn s [B])``: ``s ~ p_theta`` (seed ``seed``), then ``g s``
    with ``g`` uniform in ``G`` (drawn from the same seed, other streams). Graph-level; no validation."""
    bits, log_p = model.sample_graph(num_samples, seed)
    return apply_uniform_elements(group, bits, seed), log_p


def _orbit_log_probs(model, group: SymmetryGroup, bits, chunk: int):
    """Every image of each row and its ``log p``: ``(images [B, |G|, N] int32, log p [B, |G|])``."""
    perms, masks = group.elements()
    bits = tf.cast(bits, tf.int32)
    n = group.L * group.L
    moved = tf.gather(bits, tf.constant(perms), axis=1)                              # [B, |G|, N]
    images = tf.bitwise.bitwise_xor(moved, tf.constant(masks, tf.int32)[None])
    lp = map_in_chunks(model.log_prob_graph, tf.reshape(images, [-1, n]), chunk, model.rnn_cell.compute_dtype)
    return images, tf.reshape(lp, tf.stack([tf.shape(bits)[0], len(masks)]))


def _log_mean_exp(lp):
    return tf.reduce_logsumexp(lp, axis=1) - tf.constant(math.log(int(lp.shape[1])), dtype=lp.dtype)


def symmetrized_log_prob(model, group: SymmetryGroup, bits, chunk: int = 65536):
    """Exact ``log p_G(bits) = logsumexp_g log p(g bits) - log |G|`` (``|G| <= MAX_EXACT_GROUP``)."""
    return _log_mean_exp(_orbit_log_probs(model, group, bits, chunk)[1])


def symmetrized_log_prob_and_score_images(model, group: SymmetryGroup, bits, seed, draws: int = 1,
                                          chunk: int = 65536):
    """``log p_G(bits) [B]`` and ``draws`` images ``g* s`` per row ``[B, draws, N]``, each ``g*`` drawn
    independently (from ``seed``) with probability ``w_g = p(g s) / sum_g' p(g' s)``.

    ``grad log p_G(s) = sum_g w_g grad log p(g s) = E_{g*}[grad log p(g* s)]``: the score of ``p_G``
    needs a taped pass over ``draws`` images per sample instead of all ``|G|`` of them (the backward
    pass costs about twice the forward one). Unbiased for any ``draws``; more draws, less variance.
    The exact sum is :func:`symmetrized_log_prob`'s gradient.
    """
    images, lp = _orbit_log_probs(model, group, bits, chunk)
    # Inverse-CDF draws (tf.random.stateless_categorical has no XLA CPU kernel).
    cdf = tf.math.cumsum(tf.nn.softmax(lp, axis=1), axis=1)                          # [B, |G|]
    u = tf.random.stateless_uniform(tf.stack([tf.shape(lp)[0], draws]), dtype=lp.dtype, alg="philox",
                                    seed=tf.cast(seed, tf.int64) + tf.constant([3 * GROUP_STREAM, 0], tf.int64))
    below = tf.cast(cdf[:, None, :] < u[:, :, None] * cdf[:, None, -1:], tf.int32)   # [B, draws, |G|]
    pick = tf.minimum(tf.reduce_sum(below, axis=2), lp.shape[1] - 1)
    return _log_mean_exp(lp), tf.gather(images, pick, batch_dims=1)


def symmetrized_flip_log_probs(model, group: SymmetryGroup, bits, chunk: int = 65536):
    """``log p_G`` of every single-spin flip of each row: ``[B, N]`` (``|G| N`` passes per row), for the
    transverse-field term of ``psi_G = sqrt(p_G)``."""
    n = group.L * group.L
    bits = tf.cast(bits, tf.int32)
    flipped = tf.bitwise.bitwise_xor(bits[:, None, :], tf.eye(n, dtype=tf.int32)[None])     # [B, N, N]
    lp = symmetrized_log_prob(model, group, tf.reshape(flipped, [-1, n]), chunk)
    return tf.reshape(lp, tf.stack([tf.shape(bits)[0], n]))
