"""GF(2) linear algebra of the Newman–Moore parity map.

The map ``A: b -> (b_i ^ b_j ^ b_k)_triangles`` is linear over GF(2). Ground
states are the bit strings whose every triangle has parity 1, i.e. the affine
space ``1 + ker A`` (``1`` = all-ones = all-down), so the degeneracy is
``2**(N - rank A)``.

Matrices are stored bit-packed: row ``r`` is a uint64 array of ``ceil(ncols/64)``
words, bit ``c % 64`` of word ``c // 64`` holding column ``c``.
"""

from __future__ import annotations

import functools

import numpy as np

from ..lattice import check_L, triangles
from ..errors import UsageError

__all__ = [
    "MAX_ENUMERATED_LOG2",
    "degeneracy",
    "ground_states",
    "inverse_parity_matrix",
    "kernel_basis",
    "log2_degeneracy",
    "pack_rows",
    "parity_matrix",
    "unpack_rows",
]

MAX_ENUMERATED_LOG2 = 20


def pack_rows(dense: np.ndarray) -> np.ndarray:
    """Pack a 0/1 matrix ``[R, C]`` into uint64 words ``[R, ceil(C/64)]``."""
    dense = np.asarray(dense, dtype=np.uint8)
    rows, cols = dense.shape
    words = -(-cols // 64)
    padded = np.zeros((rows, words * 64), dtype=np.uint8)
    padded[:, :cols] = dense
    return np.packbits(padded.reshape(rows, words, 64)[:, :, ::-1], axis=2).view(">u8").reshape(
        rows, words).astype(np.uint64)


def unpack_rows(packed: np.ndarray, cols: int) -> np.ndarray:
    """Inverse of :func:`pack_rows`: uint8 ``[R, cols]``."""
    packed = np.ascontiguousarray(packed, dtype=np.uint64)
    rows, words = packed.shape
    bits = np.unpackbits(packed.astype(">u8").view(np.uint8).reshape(rows, words, 8), axis=2)
    return bits.reshape(rows, words, 64)[:, :, ::-1].reshape(rows, words * 64)[:, :cols]


def parity_matrix(L: int, transpose: bool = False) -> np.ndarray:
    """Dense uint8 ``[N, N]`` matrix of ``A`` (row = triangle, column = site), or ``A^T``."""
    L = check_L(L)
    n = L * L
    a = np.zeros((n, n), dtype=np.uint8)
    tri = triangles(L)
    for k in range(3):
        a[np.arange(n), tri[:, k]] ^= 1
    return a.T.copy() if transpose else a


def _rref(packed: np.ndarray, ncols: int):
    """Reduced row echelon form in place; returns the pivot columns."""
    m = packed
    nrows = m.shape[0]
    pivots = []
    r = 0
    for c in range(ncols):
        if r == nrows:
            break
        w, bit = divmod(c, 64)
        bit = np.uint64(bit)
        col = ((m[r:, w] >> bit) & np.uint64(1)).astype(bool)
        nz = np.flatnonzero(col)
        if nz.size == 0:
            continue
        p = r + nz[0]
        if p != r:
            m[[r, p]] = m[[p, r]]
        hit = ((m[:, w] >> bit) & np.uint64(1)).astype(bool)
        hit[r] = False
        # Columns < c of the pivot row are zero, so only words >= w change.
        m[hit, w:] ^= m[r, w:]
        pivots.append(c)
        r += 1
    return pivots


@functools.lru_cache(maxsize=64)
def _kernel(L: int, transpose: bool):
    n = L * L
    m = pack_rows(parity_matrix(L, transpose))
    pivots = _rref(m, n)
    dense = unpack_rows(m[: len(pivots)], n)
    free = sorted(set(range(n)) - set(pivots))
    basis = np.zeros((len(free), n), dtype=np.uint8)
    for j, f in enumerate(free):
        basis[j, f] = 1
        basis[j, pivots] = dense[:, f]
    basis.setflags(write=False)
    return len(pivots), basis


def kernel_basis(L: int, transpose: bool = False) -> np.ndarray:
    """Basis of ``ker A`` (or ``ker A^T``, the dual code of the parity image).

    Returns:
        uint8 ``[k, N]`` with ``k = N - rank A``; read-only, cached per ``L``.
    """
    return _kernel(check_L(L), bool(transpose))[1]


@functools.lru_cache(maxsize=8)
def _inverse(L: int) -> np.ndarray:
    n = L * L
    aug = pack_rows(np.concatenate([parity_matrix(L), np.eye(n, dtype=np.uint8)], axis=1))
    if len(_rref(aug, n)) < n:
        raise UsageError(f"A is singular at L = {L} ({degeneracy(L)} ground states): only L = 2**k has an inverse")
    inv = unpack_rows(aug, 2 * n)[:, n:].copy()
    inv.setflags(write=False)
    return inv


def inverse_parity_matrix(L: int) -> np.ndarray:
    """``A^-1`` over GF(2) (uint8 ``[N, N]``, read-only, cached): the bits ``b = A^-1 p`` whose triangle parities are
    ``p``. It exists exactly when the ground state is unique (L a power of 2)."""
    return _inverse(check_L(L))


def log2_degeneracy(L: int) -> int:
    """``N - rank A``: base-2 logarithm of the ground-state degeneracy."""
    L = check_L(L)
    return L * L - _kernel(L, False)[0]


def degeneracy(L: int) -> int:
    """Number of ground states, ``2**(N - rank A)`` (exact Python int)."""
    return 2 ** log2_degeneracy(L)


def span(basis: np.ndarray) -> np.ndarray:
    """All ``2**k`` GF(2) combinations of the rows of ``basis``: uint8 ``[2**k, N]``."""
    words = np.zeros((1, basis.shape[1]), dtype=np.uint8)
    for g in basis:
        words = np.concatenate([words, words ^ g], axis=0)
    return words


def ground_states(L: int, max_log2: int = MAX_ENUMERATED_LOG2) -> np.ndarray:
    """Every ground state as bits, the trivial (all-ones) state first.

    Returns:
        uint8 ``[degeneracy, N]``, rows distinct, each of energy ``-J N / 2``.

    Raises:
        ValueError: if there are more than ``2**max_log2`` ground states.
    """
    L = check_L(L)
    k = log2_degeneracy(L)
    if k > max_log2:
        raise UsageError(
            f"L={L} has 2^{k} ground states; enumeration is limited to 2^{max_log2}")
    return span(kernel_basis(L)) ^ np.uint8(1)


SYMMETRIES = ("none", "kernel", "kernel+translations")
MAX_EXACT_GROUP = 4096   # exact log p_G: one teacher-forced pass per group element and configuration


def group_order(L: int, kind: str) -> int:
    """``|G|`` of a symmetry kind: ``|ker A|`` (kernel), times ``L^2`` translations, or 1 (none)."""
    if kind == "none":
        return 1
    return 2 ** log2_degeneracy(L) * (L * L if kind == "kernel+translations" else 1)
