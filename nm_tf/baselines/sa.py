"""Simulated annealing baseline: single-spin-flip Metropolis, vectorised over chains (NumPy).

A sweep visits the N sites in a random order (the same order for every chain,
drawn from the seed) and proposes one flip per site. Flipping site i toggles the
parity of its three triangles, so ``dE = J * sum_t (2 p_t - 1)`` over those
triangles, where ``p_t = 1`` marks a satisfied triangle (``sigma_i sigma_j sigma_k = -1``).

The temperature follows the annealing schedule shape of the variational runs:
``T(sweep) = T_final + (T0 - T_final) * fraction(sweep / sweeps)`` after ``warmup``
sweeps at ``T0``; the last sweeps run at T = 0 (only downhill or neutral moves)
for a linear schedule ending at 0.

Budget: one sweep of one chain costs N local updates, about one energy
evaluation of a configuration; a VCA step with N_s samples evaluates N_s
configurations. ``chains * sweeps = steps * N_s`` therefore compares equal
numbers of configuration energy evaluations.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..hamiltonian import energy, energy_from_parities, ground_state_energy, is_ground_state, triangle_parities
from ..lattice import check_L, site_triangles
from ..errors import UsageError

__all__ = ["SAConfig", "simulated_annealing"]


@dataclasses.dataclass(frozen=True)
class SAConfig:
    """Simulated annealing settings.

    Attributes:
        L: linear size.
        chains: independent chains run in parallel.
        sweeps: annealing sweeps (after warm-up).
        warmup: sweeps at ``T0`` before annealing.
        T0, T_final: schedule end points.
        schedule: ``"linear"`` or ``"exponential"`` (as :mod:`nm_tf.annealing.schedule`).
        J: coupling.
        seed: RNG seed (initial states, visiting orders, acceptances).
    """

    L: int = 5
    chains: int = 100
    sweeps: int = 1000
    warmup: int = 0
    T0: float = 10.0
    T_final: float = 0.0
    schedule: str = "linear"
    J: float = 1.0
    seed: int = 0

    def __post_init__(self):
        check_L(self.L)
        for name in ("chains", "sweeps"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise UsageError(f"{name} must be a positive integer, got {v!r}")
        if not isinstance(self.warmup, int) or self.warmup < 0:
            raise UsageError(f"warmup must be an integer >= 0, got {self.warmup!r}")
        for name in ("T0", "T_final"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise UsageError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.T_final > self.T0:
            raise UsageError(f"T_final ({self.T_final}) must not exceed T0 ({self.T0})")
        if self.schedule not in ("linear", "exponential"):
            raise UsageError(f"schedule must be 'linear' or 'exponential', got {self.schedule!r}")
        if self.J <= 0:
            raise UsageError(f"J must be > 0, got {self.J}")

    def temperature(self, sweep: int) -> float:
        if sweep < self.warmup:
            return float(self.T0)
        t = (sweep - self.warmup + 1) / self.sweeps
        if t >= 1.0:
            f = 0.0
        elif self.schedule == "linear":
            f = 1.0 - t
        else:
            f = (math.exp(-5 * t) - math.exp(-5)) / (1 - math.exp(-5))
        return self.T_final + (self.T0 - self.T_final) * f


def simulated_annealing(cfg: SAConfig, record_every: int = 0):
    """Run SA and return the final states and statistics.

    Args:
        cfg: settings.
        record_every: record ``(sweep, T, mean energy per spin)`` every this many sweeps (0: never).

    Returns:
        dict with ``bits`` (uint8 ``[chains, N]``), ``energy`` (``[chains]``),
        ``residual_energy_per_spin`` (mean over chains of ``(E - E0)/N``),
        ``ground_state_hit_rate`` (fraction of chains ending in a ground state),
        ``distinct_ground_states``, ``energy_evaluations`` (``chains * sweeps``, see module doc)
        and ``trace`` (list of records).
    """
    L, J = cfg.L, cfg.J
    n = L * L
    rng = np.random.default_rng([cfg.seed, 0x5A])
    member = site_triangles(L)
    bits = rng.integers(0, 2, size=(cfg.chains, n), dtype=np.uint8)
    # Sites and triangles first ([N, C], [T, C]): a proposal reads three contiguous parity rows and
    # writes one bit row, where the chain-major layout paid a fancy-indexed gather and scatter per site.
    par = np.ascontiguousarray(triangle_parities(bits, L).astype(np.uint8).T)
    bits = np.ascontiguousarray(bits.T)
    # Metropolis on dE = J (2 (p_a + p_b + p_c) - 3) in {-3J, -J, J, 3J}: the acceptance probability of
    # each level at this T, looked up by the parity sum instead of an exp per chain and site.
    trace = []
    total = cfg.warmup + cfg.sweeps
    for sweep in range(total):
        T = cfg.temperature(sweep)
        order = rng.permutation(n)
        u = rng.random((n, cfg.chains))
        d_e = J * (2.0 * np.arange(4) - 3.0)
        p_accept = (d_e <= 0).astype(np.float64) if T == 0 else np.exp(-np.maximum(d_e, 0.0) / T)
        for k, i in enumerate(order):
            tr = member[i]
            level = par[tr[0]] + par[tr[1]] + par[tr[2]]
            accept = (p_accept[level] > 0) if T == 0 else u[k] < p_accept[level]
            flip = accept.view(np.uint8)
            bits[i] ^= flip
            par[tr[0]] ^= flip
            par[tr[1]] ^= flip
            par[tr[2]] ^= flip
        if record_every and (sweep % record_every == 0 or sweep == total - 1):
            trace.append((sweep + 1, T, float(energy_from_parities(par.T, J).mean() / n)))
    bits = np.ascontiguousarray(bits.T)
    e = energy(bits, L, J)
    e0 = ground_state_energy(L, J)
    ground = is_ground_state(e, e0, J)
    return {
        "bits": bits, "energy": e,
        "residual_energy_per_spin": float((e.mean() - e0) / n),
        "ground_state_hit_rate": float(ground.mean()),
        "distinct_ground_states": int(len(np.unique(bits[ground], axis=0))) if ground.any() else 0,
        "energy_evaluations": int(cfg.chains * total),
        "trace": trace,
    }
