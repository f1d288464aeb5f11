"""Exact ground-state energy of the quantum Newman–Moore model.

``H = (J/2) sum_triangles Z_i Z_j Z_k - Gamma sum_i X_i`` on ``N <= 25`` spins.

The model is stoquastic and ``-Gamma X`` connects every basis state, so for
``Gamma > 0`` the ground state is unique with positive amplitudes
(Perron–Frobenius) and therefore invariant under the ``L x L`` translations.
We diagonalise in the zero-momentum sector: basis states are translation orbits
``|R_r> = n_r**-1/2 sum_{s in orbit(r)} |s>`` (``n_r`` = orbit size, ``r`` = the
smallest integer in the orbit), where

    <R_r|H|R_r>     = E_zzz(r)
    <R_r|H|R_r'>    = -Gamma * sqrt(n_r / n_r') * #{i : rep(flip_i r) = r'}

The sector has about ``2**N / N`` states (1.34 M at L = 5); the matrix is built
with bit operations on integer states, never densely.

Duality (checked in the tests): for ``L`` with a unique classical ground state
(``A`` invertible over GF(2)) the map ``Z_iZ_jZ_k -> X'_t``, ``X_i -> Z'Z'Z'``
on the dual (upward) triangles is an isomorphism, so
``spectrum(a ZZZ - Gamma X) = spectrum(Gamma ZZZ - a X)`` with ``a = J/2``,
giving ``e0(Gamma) = (2 Gamma / J) * e0(J**2 / (4 Gamma))`` per spin, with the
self-dual point ``Gamma = J/2``.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..lattice import check_L, triangles
from ..errors import UsageError

__all__ = ["MAX_QUANTUM_SPINS", "quantum_ground_energy", "quantum_ground_energy_dense"]

MAX_QUANTUM_SPINS = 25


def _check(L: int, gamma: float, J: float, max_spins: int) -> int:
    L = check_L(L)
    if L * L > max_spins:
        raise UsageError(
            f"quantum ground energy needs N = L^2 <= {max_spins} spins for exact "
            f"diagonalisation on this machine, got L={L} (N={L * L})")
    g = float(gamma)
    if not (g >= 0) or math.isinf(g):
        raise UsageError(f"transverse field Gamma must be a finite number >= 0, got {gamma!r}")
    if not J > 0:
        raise UsageError(f"coupling J must be > 0, got {J!r}")
    return L


def _diagonal(states: np.ndarray, L: int, J: float) -> np.ndarray:
    """Classical energy of integer-encoded states (bit i = b_i)."""
    satisfied = np.zeros(states.shape, dtype=np.int64)
    for i, j, k in triangles(L):
        satisfied += ((states >> i) ^ (states >> j) ^ (states >> k)) & 1
    return 0.5 * J * (L * L - 2 * satisfied).astype(np.float64)


def _representatives(L: int) -> np.ndarray:
    """``rep[s]`` = smallest integer in the translation orbit of ``s``, for all 2**N states."""
    n = L * L
    dtype = np.uint32 if n <= 32 else np.uint64
    one = dtype(1)
    full = dtype((1 << n) - 1)
    last_col = dtype(sum(1 << (L - 1 + L * y) for y in range(L)))
    s = np.arange(1 << n, dtype=dtype)
    rep = s.copy()
    row = s
    for _dy in range(L):
        cur = row
        for _dx in range(L):
            np.minimum(rep, cur, out=rep)
            # (x, y) -> (x + 1, y): shift within each row of L bits, wrapping.
            cur = ((cur & ~last_col) << one) | ((cur & last_col) >> dtype(L - 1))
        # (x, y) -> (x, y + 1): shift by one row, wrapping.
        row = ((row << dtype(L)) & full) | (row >> dtype(L * (L - 1)))
    return rep


@functools.lru_cache(maxsize=4)
def _sector(L: int, J: float):
    """Diagonal and unit-Gamma off-diagonal part of H in the zero-momentum sector."""
    import scipy.sparse as sp

    n = L * L
    rep = _representatives(L)
    reps = np.flatnonzero(rep == np.arange(rep.size, dtype=rep.dtype)).astype(rep.dtype)
    orbit = np.bincount(rep, minlength=rep.size)[reps].astype(np.float64)
    dim = reps.size
    rows = np.repeat(np.arange(dim, dtype=np.int32), n)
    cols = np.empty((dim, n), dtype=np.int32)
    vals = np.empty((dim, n), dtype=np.float64)
    for i in range(n):
        nb = np.searchsorted(reps, rep[reps ^ rep.dtype.type(1 << i)])
        cols[:, i] = nb
        vals[:, i] = np.sqrt(orbit / orbit[nb])
    del rep
    off = sp.csr_matrix((vals.ravel(), (rows, cols.ravel())), shape=(dim, dim))
    diag = _diagonal(reps.astype(np.int64), L, J)
    return diag, off, np.sqrt(orbit)


def quantum_ground_energy(L: int, gamma: float, J: float = 1.0, tol: float = 1e-10,
                          max_spins: int = MAX_QUANTUM_SPINS) -> float:
    """Exact ground-state energy per spin of ``H - Gamma sum X`` (sparse Lanczos).

    Args:
        L: linear size, ``L*L <= max_spins``.
        gamma: transverse field, >= 0.
        J: coupling.
        tol: Lanczos tolerance.

    Returns:
        ``e0 / N`` as a float. The sector matrices are cached, so a sweep over
        many ``gamma`` at one ``L`` pays for the construction once.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh

    L = _check(L, gamma, J, max_spins)
    gamma = float(gamma)
    if gamma == 0.0:
        return -0.5 * J
    diag, off, v0 = _sector(L, float(J))
    # A huge field: solve H / Gamma (coupling J / Gamma, field 1) and scale back, as Lanczos's norms of H itself
    # overflow a double (ARPACK error -9999 at Gamma = 1e308 before session 28). Below 1e6 the matrix stays as it
    # was, and so do the numbers.
    scale = gamma if gamma > 1e6 else 1.0
    h = sp.diags(diag / scale) - (gamma / scale) * off
    if h.shape[0] <= 64:
        return scale * (float(np.linalg.eigvalsh(h.toarray())[0]) / (L * L))
    # The Perron vector is positive: start from the uniform state (v0).
    val = eigsh(h, k=1, which="SA", v0=v0, tol=tol, return_eigenvectors=False)
    return scale * (float(val[0]) / (L * L))


def quantum_ground_energy_dense(L: int, gamma: float, J: float = 1.0) -> float:
    """Reference by dense diagonalisation of the full ``2**N`` matrix (``N <= 12``)."""
    L = _check(L, gamma, J, 12)
    n = L * L
    states = np.arange(1 << n, dtype=np.int64)
    h = np.diag(_diagonal(states, L, J))
    for i in range(n):
        h[states, states ^ (1 << i)] -= float(gamma)
    return float(np.linalg.eigvalsh(h)[0]) / n
