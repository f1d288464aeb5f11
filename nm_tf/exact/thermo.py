"""Exact classical thermodynamics of the Newman–Moore model for any L.

With ``C = image(A)`` (the triangle-parity code, length ``N``) and
``C_perp = ker A^T``, the MacWilliams identity gives

    Z(T) = (2 cosh(J / 2T))**N * sum_{d in C_perp} tanh(J / 2T)**|d|

(|d| = Hamming weight). ``|C_perp| = 2**(N - rank A)`` equals the ground-state
degeneracy, so only a small code is enumerated. For ``L = 2**k`` the sum is 1
and ``f = -T ln(2 cosh(J / 2T))``, the paper's formula.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..lattice import check_L
from .gf2 import inverse_parity_matrix, kernel_basis, log2_degeneracy, pack_rows, span
from ..errors import UsageError

__all__ = ["boltzmann_samples", "dual_weight_distribution", "ground_state_weight", "thermodynamics", "Thermo"]

_TABLE_LOG2 = 16  # rows of the precomputed half of the code (2**16 codewords)


@functools.lru_cache(maxsize=64)
def _weights(L: int) -> tuple:
    n = L * L
    basis = kernel_basis(L, transpose=True)
    k = basis.shape[0]
    counts = np.zeros(n + 1, dtype=np.int64)
    low, high = basis[: min(k, _TABLE_LOG2)], basis[min(k, _TABLE_LOG2):]
    table = pack_rows(span(low))                     # [2**k1, W]
    high_packed = pack_rows(high) if len(high) else np.zeros((0, table.shape[1]), np.uint64)
    h = np.zeros(table.shape[1], dtype=np.uint64)
    # Gray-code walk over the high half: one XOR of a basis row per step.
    for step in range(1 << len(high)):
        if step:
            h ^= high_packed[(step & -step).bit_length() - 1]
        w = np.bitwise_count(table ^ h).sum(axis=1, dtype=np.int64)
        counts += np.bincount(w, minlength=n + 1)
    return tuple(int(c) for c in counts)


def dual_weight_distribution(L: int) -> np.ndarray:
    """Weight distribution of ``ker A^T``: ``a[w]`` = number of codewords of weight ``w``.

    Returns:
        int64 ``[N + 1]``, summing to the degeneracy. Cached per ``L``.
    """
    L = check_L(L)
    k = log2_degeneracy(L)
    if k > MAX_DUAL_LOG2:
        raise UsageError(f"exact F(T) at L={L} enumerates 2^{k} dual codewords; the limit is 2^{MAX_DUAL_LOG2} "
                         f"(about 4 minutes on 2 cores: 2^30 took 1 minute)")
    return np.asarray(_weights(L), dtype=np.int64)


MAX_DUAL_LOG2 = 32


class Thermo(dict):
    """Per-spin ``free_energy``, ``energy``, ``entropy`` (and ``log_Z`` total) at one T."""


MAX_BETA_J = 1e300     # J / (2 T) above this is refused: x and e^{2x} overflow soon after


def _check_temperature(T, J) -> float:
    """``T`` as a float, after the checks every function of a temperature and a coupling makes."""
    T = float(T)
    if not (T > 0) or math.isinf(T):
        raise UsageError(f"temperature T must be a finite number > 0, got {T!r}")
    if not J > 0:
        raise UsageError(f"coupling J must be > 0, got {J!r}")
    return T


def thermodynamics(L: int, T: float, J: float = 1.0) -> Thermo:
    """Exact free energy, internal energy and entropy per spin at temperature ``T``.

    Args:
        L: linear size (any integer >= 2).
        T: temperature, > 0 (units of J, k_B = 1).
        J: coupling, > 0.

    Returns:
        :class:`Thermo` with keys ``free_energy``, ``energy``, ``entropy``
        (per spin) and ``log_Z``.
    """
    L = check_L(L)
    T = _check_temperature(T, J)
    if J / (2 * T) > MAX_BETA_J:
        raise UsageError(f"temperature T must be >= {J / (2 * MAX_BETA_J):.0e} J (J/T beyond that overflows a "
                         f"double; below T ~ 0.01 J every quantity already equals its T = 0 value), got {T!r}")
    n = L * L
    a = dual_weight_distribution(L)
    w = np.nonzero(a)[0]
    x = J / (2 * T)
    t = math.tanh(x)
    e = math.exp(-2 * x)
    one_minus_t = 2 * e / (1 + e)                     # 1 - tanh x, without cancellation at large x
    log_cosh2 = x + math.log1p(e)                     # ln(2 cosh x), overflow safe
    if t == 0.0:
        terms = np.where(w == 0, 0.0, -np.inf)
    else:
        # ln t: from 1 - tanh x at low T (no cancellation there); directly at high T, where 1 - (1 - tanh x) keeps
        # only ~1e-16 / t of t's digits and, for T > ~1e16 J, rounds to ln 0 (a math domain error before session 28).
        log_t = math.log(t) if t < 1e-3 else math.log1p(-one_minus_t)
        terms = np.log(a[w].astype(np.float64)) + w * log_t
    m = terms.max()
    s0 = np.exp(terms - m).sum()
    log_z = n * log_cosh2 + m + math.log(s0)
    # U = -d lnZ / d beta;  d t / d beta = (J/2)(1 - t^2)
    mean_w_over_t = (np.exp(terms - m) * w).sum() / s0 / t if t > 0 else 0.0
    one_minus_t2 = one_minus_t * (1 + t)
    u = -n * 0.5 * J * t - 0.5 * J * one_minus_t2 * mean_w_over_t
    # S = ln Z + U / T written so that the n x terms cancel analytically: at small T, ln Z and U / T are
    # both ~ n J / (2 T) and their difference (the entropy) would be lost to rounding.
    s = n * x * one_minus_t + n * math.log1p(e) + m + math.log(s0) - x * one_minus_t2 * mean_w_over_t
    f = u - T * s
    return Thermo(free_energy=f / n, energy=u / n, entropy=s / n, log_Z=log_z)


def ground_state_weight(L: int, T: float, J: float = 1.0) -> float:
    """Exact Boltzmann probability of the ground-state manifold at temperature ``T``:
    ``D exp(-E0 / T) / Z(T)`` with ``D`` the degeneracy and ``E0 = -J N / 2`` (every triangle
    satisfied). What an equilibrated Monte Carlo chain at ``T`` spends in ground states."""
    th = thermodynamics(L, T, J)          # validates L, T and J
    n = L * L
    return math.exp(log2_degeneracy(L) * math.log(2) + 0.5 * J * n / T - th["log_Z"])


def boltzmann_samples(L: int, T: float, n: int, seed, J: float = 1.0) -> np.ndarray:
    """``n`` exact, independent samples of the Boltzmann distribution at ``T``: uint8 bits ``[n, N]``.

    For L = 2**k the parity map ``A`` is invertible, so the triangle parities are independent under the Boltzmann
    weight (each broken with probability ``1 / (1 + e^{J/T})``) and the bits are ``A^-1`` times them; other L are
    refused (their parities are constrained, and the samples would need a Markov chain). ``seed``: anything
    ``numpy.random.default_rng`` takes."""
    L = check_L(L)
    T = _check_temperature(T, J)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise UsageError(f"n must be a positive integer, got {n!r}")
    inv = inverse_parity_matrix(L)
    broken = 0.5 * (1.0 - math.tanh(J / (2 * T)))          # = 1 / (1 + e^{J/T}), without overflow
    rng = np.random.default_rng(seed)
    parities = (rng.random((n, L * L)) >= broken).astype(np.uint8)      # 1 = satisfied
    return ((parities.astype(np.int64) @ inv.T.astype(np.int64)) & 1).astype(np.uint8)
