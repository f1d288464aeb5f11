"""Mode-collapse statistics of a set of samples (paper Sec. IV A-B, Fig. 6).

Everything here is NumPy on bits (``1`` = down, site order ``x + L*y``); the exact
ground-state set comes from the GF(2) kernel of the physics core.
"""

from __future__ import annotations

import math

import numpy as np

from ..exact import degeneracy, ground_states, log2_degeneracy
from ..exact.gf2 import MAX_ENUMERATED_LOG2
from ..hamiltonian import as_bits, energy, ground_state_energy, hamming_to_trivial, is_ground_state
from ..errors import UsageError

__all__ = ["analyse", "effective_number", "pca", "MAX_LISTED_GROUND_STATES"]

MAX_LISTED_GROUND_STATES = 4096   # per-state counts, Hamming distances and min p are listed up to this size


def _row_keys(bits: np.ndarray) -> list:
    """One hashable key (bytes) per row."""
    return [row.tobytes() for row in np.packbits(bits, axis=1)]


def effective_number(counts) -> float:
    """exp of the entropy of the empirical distribution given by ``counts`` (positive): 1 for one state, n when
    n states are equally frequent."""
    p = np.asarray(counts, dtype=np.float64)
    p = p / p.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def analyse(samples, L: int, J: float = 1.0, encoding: str = "bits", log_prob=None) -> dict:
    """Ground-state coverage and Hamming statistics.

    Args:
        samples: ``[n, N]`` (or ``[n, L, L]``) configurations in ``encoding``.
        L: linear size.

    Returns:
        A dict with ``n_samples``, ``ground_state_fraction``, ``distinct_ground_states``,
        ``degeneracy``, ``coverage`` (found / degeneracy), ``kl_to_uniform`` (KL divergence,
        in nats, of the empirical distribution over ground states from the uniform one;
        0 = uniform, ``log(degeneracy)`` = one state only; None without ground-state samples),
        ``hamming_histogram`` (``[N+1]`` counts of distance to the trivial state, Eq. 9),
        ``mean_hamming``, ``residual_energy_per_spin`` and, when the exact set is listed
        (``degeneracy <= 4096``), ``ground_state_counts`` in the order of
        :func:`~nm_tf.exact.ground_states` (trivial state first) and
        ``ground_state_hamming`` (distance of each to the trivial state), ``effective_ground_states``
        (exp of the entropy of the empirical distribution over ground states; None without
        ground-state samples), ``uniformity_p_value`` (chi-square test of the ground-state counts
        against uniform over the enumerated set, up to 2^20 states; None without ground-state samples
        or when the set is not enumerated) and, given ``log_prob`` (a function
        of bits ``[M, N]``, e.g. the model's or a symmetrised one), ``min_ground_state_probability``:
        the exact probability of the least likely ground state.
    """
    bits = as_bits(samples, L, encoding)
    n, N = bits.shape
    if n == 0:
        raise UsageError("no samples to analyse")
    e = energy(bits, L, J)
    e0 = ground_state_energy(L, J)
    ground = is_ground_state(e, e0, J)
    deg = degeneracy(L)
    uniq_rows, counts = np.unique(np.packbits(bits[ground], axis=1), axis=0, return_counts=True)
    uniq = [row.tobytes() for row in uniq_rows]
    hist = np.bincount(hamming_to_trivial(bits, L), minlength=N + 1)
    out = {
        "L": L, "n_samples": int(n),
        "ground_state_fraction": float(ground.mean()),
        "distinct_ground_states": int(len(uniq)),
        "degeneracy": int(deg),
        "coverage": float(len(uniq) / deg),
        "kl_to_uniform": None,
        "hamming_histogram": [int(c) for c in hist],
        "mean_hamming": float(np.arange(N + 1) @ hist / n),
        "residual_energy_per_spin": float((e.mean() - e0) / N),
    }
    out["effective_ground_states"] = None
    out["uniformity_p_value"] = None
    if ground.any():
        p = counts / counts.sum()
        out["kl_to_uniform"] = float(math.log(deg) + np.sum(p * np.log(p)))
        out["effective_ground_states"] = effective_number(counts)   # 1 for one state, D when uniform
    if log2_degeneracy(L) <= MAX_ENUMERATED_LOG2:
        exact = ground_states(L)
        index = {k: i for i, k in enumerate(_row_keys(exact))}
        found = np.zeros(len(exact), dtype=np.int64)
        for k, c in zip(uniq, counts):
            found[index[k]] += c     # KeyError here would mean an energy bug: let it surface
        if found.sum() and len(found) > 1:
            from scipy.stats import chisquare

            # chi^2 test of the ground-state counts against uniform over the whole enumerated set
            # (small p: not uniform); meaningful when the samples give several counts per state.
            out["uniformity_p_value"] = float(chisquare(found).pvalue)
        if len(exact) <= MAX_LISTED_GROUND_STATES:
            out["ground_state_counts"] = [int(c) for c in found]
            out["ground_state_hamming"] = [int(h) for h in hamming_to_trivial(exact, L)]
            lp = log_prob(exact) if log_prob is not None else None   # a source may decline (None)
            if lp is not None:
                out["min_ground_state_probability"] = float(np.exp(np.min(lp)))
    return out


def pca(samples, L: int, components: int = 2, encoding: str = "bits"):
    """Principal components of configurations as spins ``+-1`` (Fig. 6a).

    The covariance is built from the distinct rows weighted by their multiplicity
    (exact, and cheap for collapsed samples); coordinates are returned for every row.

    Args:
        samples: ``[n, N]`` configurations.
        components: number of components kept.

    Returns:
        ``(coords [n, components], explained_variance_ratio [components])``.
    """
    bits = as_bits(samples, L, encoding)
    spins = 1.0 - 2.0 * bits
    uniq, counts = np.unique(bits, axis=0, return_counts=True)
    w = counts / counts.sum()
    x = 1.0 - 2.0 * uniq
    mean = w @ x
    xc = (x - mean) * np.sqrt(w)[:, None]
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    total = float(np.sum(s ** 2))
    k = min(components, vt.shape[0])
    ratio = (s[:k] ** 2) / total if total > 0 else np.zeros(k)
    coords = (spins - mean) @ vt[:k].T
    if k < components:
        coords = np.pad(coords, ((0, 0), (0, components - k)))
        ratio = np.pad(ratio, (0, components - k))
    return coords, ratio
