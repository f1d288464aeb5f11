"""Newman–Moore energies, in NumPy (analysis) and TensorFlow (training).

``H = (J/2) * sum_triangles sigma_i sigma_j sigma_k``. With bits
``b = (1 - sigma)/2`` the product of a triangle is ``(-1)**(b_i + b_j + b_k)``,
so ``H = (J/2) * sum_t (1 - 2 * parity_t)``: integer arithmetic, identical in
both back ends. Ground states have every triangle parity equal to 1 and energy
``-J N / 2``.

Both back ends accept configurations as ``[B, N]`` or ``[B, L, L]`` (``[.., y, x]``)
and a single configuration ``[N]`` / ``[L, L]``; see :func:`as_bits`.
"""

from __future__ import annotations

import numpy as np

from .lattice import check_L, triangles
from .errors import UsageError

__all__ = [
    "as_bits",
    "energy",
    "energy_tf",
    "ground_state_energy",
    "hamming_to_trivial",
    "triangle_parities",
]

ENCODINGS = ("bits", "spins")


def as_bits(config, L: int, encoding: str = "bits") -> np.ndarray:
    """Validate configurations and return them as uint8 bits ``[B, N]``.

    Args:
        config: array-like ``[B, N]``, ``[B, L, L]``, ``[N]`` or ``[L, L]``.
        L: linear lattice size.
        encoding: ``"bits"`` (values in {0, 1}) or ``"spins"`` (values in
            {+1, -1}, converted with ``b = (1 - sigma) / 2``).

    Returns:
        uint8 array ``[B, N]`` (``B = 1`` for a single configuration).

    Raises:
        ValueError: wrong shape, or values outside the encoding.
    """
    L = check_L(L)
    n = L * L
    if encoding not in ENCODINGS:
        raise UsageError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    a = np.asarray(config)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise UsageError(f"configurations must be numeric, got dtype {a.dtype}")
    if a.shape in ((n,), (L, L)):
        a = a.reshape(1, n)
    elif a.ndim == 2 and a.shape[1] == n:
        pass
    elif a.ndim == 3 and a.shape[1:] == (L, L):
        a = a.reshape(a.shape[0], n)
    else:
        raise UsageError(
            f"configurations must have shape [B, {n}] or [B, {L}, {L}] for L={L}, got {a.shape}")
    allowed = (0, 1) if encoding == "bits" else (-1, 1)
    if a.size and not np.isin(a, allowed).all():
        bad = a[~np.isin(a, allowed)].ravel()[0]
        raise UsageError(f"{encoding} must take values in {set(allowed)}, found {bad!r}")
    if encoding == "spins":
        a = (1 - a) // 2
    return a.astype(np.uint8)


def triangle_parities(bits: np.ndarray, L: int) -> np.ndarray:
    """Parities ``b_i ^ b_j ^ b_k`` of every triangle: uint8 ``[B, N]``."""
    tri = triangles(L)
    b = as_bits(bits, L)
    return b[:, tri[:, 0]] ^ b[:, tri[:, 1]] ^ b[:, tri[:, 2]]


def broken_by_row(parities: np.ndarray, L: int) -> np.ndarray:
    """The share of broken triangles in each lattice row y (triangle ``x + L y`` joins rows y and y + 1, so row
    L - 1's triangles close the lattice through row 0), over a batch of triangle parities ``[B, N]`` (1 =
    satisfied): float64 ``[L]``."""
    par = np.asarray(parities, dtype=np.float64)
    return 1.0 - par.reshape(-1, L, L).mean(axis=(0, 2))


def energy(config, L: int, J: float = 1.0, encoding: str = "bits") -> np.ndarray:
    """Newman–Moore energy of each configuration (NumPy).

    Returns:
        float64 ``[B]``.
    """
    return energy_from_parities(triangle_parities(as_bits(config, L, encoding), L), J)


def energy_from_parities(parities: np.ndarray, J: float = 1.0) -> np.ndarray:
    """Energy from triangle parities ``[B, N]`` (1 = satisfied): ``(J/2) (N - 2 * satisfied)``, float64 ``[B]``."""
    par = np.asarray(parities, dtype=np.int64)
    return 0.5 * J * (par.shape[1] - 2 * par.sum(axis=1)).astype(np.float64)


# Energies are e0 + J * (number of unsatisfied triangles): levels are J apart, so a quarter of a
# level separates the ground states from everything else in any floating-point precision.
GROUND_STATE_TOLERANCE = 0.25


def is_ground_state(energy, e0: float, J: float = 1.0):
    """``energy <= e0 + J/4`` (NumPy or TF): the one ground-state test of the package."""
    return energy <= e0 + GROUND_STATE_TOLERANCE * J


def ground_state_energy(L: int, J: float = 1.0) -> float:
    """``-J N / 2``: every triangle satisfied (the all-down state is one)."""
    L = check_L(L)
    return -0.5 * J * L * L


def hamming_to_trivial(config, L: int, encoding: str = "bits") -> np.ndarray:
    """Eq. 9 in spin flips: number of sites differing from all-down. int64 ``[B]``."""
    b = as_bits(config, L, encoding)
    return (1 - b.astype(np.int64)).sum(axis=1)


def energy_tf(bits, L: int, J: float = 1.0, dtype=None):
    """Newman–Moore energy in TensorFlow; no validation (hot path).

    Args:
        bits: integer or float tensor of bits, ``[B, N]`` or ``[B, L, L]``.
        L: linear size (static).
        J: coupling.
        dtype: float dtype of the result (default float32).

    Returns:
        ``[B]`` tensor, exactly equal to :func:`energy` (integer arithmetic).
    """
    import tensorflow as tf

    L = check_L(L)
    n = L * L
    dtype = dtype or tf.float32
    b = tf.reshape(tf.cast(bits, tf.int32), [-1, L, L])
    right = tf.roll(b, shift=-1, axis=2)  # (x+1, y)
    down = tf.roll(b, shift=-1, axis=1)   # (x, y+1)
    par = tf.bitwise.bitwise_xor(tf.bitwise.bitwise_xor(b, right), down)
    satisfied = tf.reduce_sum(par, axis=[1, 2])
    return tf.cast(0.5 * J, dtype) * tf.cast(n - 2 * satisfied, dtype)
