"""Geometry of the L x L periodic triangular lattice of the Newman–Moore model.

Conventions (used everywhere in nm_tf):

* Site ``(x, y)`` with ``0 <= x, y < L`` has flat index ``i = x + L * y``.
* The downward triangle anchored at ``(x, y)`` couples the sites
  ``(x, y)``, ``(x + 1, y)`` and ``(x, y + 1)`` (all mod ``L``), so there are
  ``N = L**2`` triangles, one per site, indexed like the sites.
* Spins are ``sigma in {+1, -1}`` in formulas and bits ``b in {0, 1}`` in
  tensors, with ``b = (1 - sigma) / 2``. The all-down trivial ground state
  ``sigma = -1`` is therefore the all-ones bit string.

Autoregressive orderings are data (:class:`Ordering`): the order in which the
RNN visits the sites, and for every step the site visited before it in the same
row (the horizontal neighbour) and the site above it (the vertical neighbour),
or ``-1`` at a border.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np
from .errors import UsageError

__all__ = [
    "ORDERINGS",
    "Ordering",
    "check_L",
    "make_ordering",
    "site_index",
    "site_triangles",
    "triangles",
]

ORDERINGS = ("zigzag", "raster", "raster-wrap")


def check_L(L) -> int:
    """Return ``L`` as an int, or raise ``ValueError`` naming the problem.

    Args:
        L: linear lattice size; must be an integer >= 2.
    """
    if isinstance(L, bool) or not isinstance(L, numbers.Integral):
        if isinstance(L, float) and L.is_integer():
            L = int(L)
        else:
            raise UsageError(f"lattice size L must be an integer >= 2, got {L!r}")
    L = int(L)
    if L < 2:
        raise UsageError(f"lattice size L must be an integer >= 2, got {L}")
    return L


def site_index(x, y, L: int):
    """Flat index ``x + L * y`` of site ``(x, y)`` (periodic)."""
    return (np.asarray(x) % L) + L * (np.asarray(y) % L)


def triangles(L: int) -> np.ndarray:
    """Sites of every downward triangle.

    Returns:
        int64 array ``[N, 3]``: row ``t = x + L*y`` holds the flat indices of
        ``(x, y)``, ``(x+1, y)`` and ``(x, y+1)``.
    """
    L = check_L(L)
    y, x = np.divmod(np.arange(L * L), L)
    return np.stack(
        [site_index(x, y, L), site_index(x + 1, y, L), site_index(x, y + 1, L)], axis=1
    ).astype(np.int64)


def site_triangles(L: int) -> np.ndarray:
    """The three triangles of every site: int64 ``[N, 3]`` (rows of :func:`triangles`). A spin flip
    changes the sign of exactly these three triangle products."""
    return np.argsort(triangles(L).ravel(), kind="stable").reshape(L * L, 3) // 3


@dataclasses.dataclass(frozen=True)
class Ordering:
    """An autoregressive visiting order of the sites, with neighbour tables.

    Attributes:
        name: ``"zigzag"``, ``"raster"`` or ``"raster-wrap"``.
        L: linear size.
        sites: int32 ``[N]``, the site visited at step ``k``.
        columns: int32 ``[N]``, the column ``x`` of ``sites[k]``.
        horizontal: int32 ``[N]``, the site whose state is the "horizontal" input of step ``k``: the
            site visited just before in the same row, ``-1`` at the start of a row; for ``raster-wrap``
            the last site of the previous row at a row start (``-1`` only at step 0).
        vertical: int32 ``[N]``, the site ``(x, y - 1)`` above, ``-1`` in row 0.
        row_start: bool ``[N]``, true when step ``k`` starts a row.
    """

    name: str
    L: int
    sites: np.ndarray
    columns: np.ndarray
    horizontal: np.ndarray
    vertical: np.ndarray
    row_start: np.ndarray

    @property
    def n_sites(self) -> int:
        return self.L * self.L

    def position(self) -> np.ndarray:
        """int32 ``[N]``: the step at which each site is visited."""
        pos = np.empty(self.n_sites, dtype=np.int32)
        pos[self.sites] = np.arange(self.n_sites, dtype=np.int32)
        return pos


def make_ordering(L: int, name: str = "zigzag") -> Ordering:
    """Build an :class:`Ordering`.

    ``zigzag`` (the paper's, Fig. 1b) runs row 0 left to right, row 1 right to
    left, and so on; ``raster`` runs every row left to right. In both, a site's
    vertical neighbour is the site directly above it, which has always been
    visited earlier, and the RNN has no periodic wrap. ``raster-wrap`` visits the
    sites as ``raster`` but feeds the last site of the previous row as the
    horizontal input of a row's first site (the authors' public code does this;
    their paper's text describes the zigzag).
    """
    L = check_L(L)
    if name not in ORDERINGS:
        raise UsageError(f"ordering must be one of {ORDERINGS}, got {name!r}")
    sites, cols, horiz, vert, start = [], [], [], [], []
    for y in range(L):
        xs = range(L) if (name != "zigzag" or y % 2 == 0) else range(L - 1, -1, -1)
        prev = sites[-1] if (name == "raster-wrap" and sites) else -1
        for j, x in enumerate(xs):
            s = x + L * y
            sites.append(s)
            cols.append(x)
            horiz.append(prev)
            vert.append(x + L * (y - 1) if y > 0 else -1)
            start.append(j == 0)
            prev = s
    as32 = lambda a: np.asarray(a, dtype=np.int32)  # noqa: E731
    return Ordering(name, L, as32(sites), as32(cols), as32(horiz), as32(vert),
                    np.asarray(start, dtype=bool))
