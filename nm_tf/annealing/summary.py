"""The end of a run: its final sample and the numbers of ``summary.json``."""

from __future__ import annotations

import numpy as np

from ..provenance import provenance

__all__ = ["FINAL_SEED_OFFSET", "exact_deviation", "final_sample", "summary_of"]

# The final sample's chunk k uses the seed [seed, FINAL_SEED_OFFSET + k]: never a training step's [seed, s].
FINAL_SEED_OFFSET = 1 << 40


def final_sample(model, cfg, group=None):
    """``(bits uint8 [n, N], energies [n])``: ``cfg.final_samples`` configurations in chunks of ``cfg.final_chunk``,
    from ``p_G`` when ``group`` (a :class:`~nm_tf.models.symmetry.SymmetryGroup`) is given."""
    import tensorflow as tf

    from ..hamiltonian import energy

    chunks, energies, left, k = [], [], cfg.final_samples, 0
    while left > 0:
        b = min(cfg.final_chunk, left)
        seed = [cfg.seed, FINAL_SEED_OFFSET + k]
        if group is None:
            bits, _ = model.sample(b, seed=seed)
        else:   # the trained distribution is p_G
            from ..models.symmetry import symmetrized_sample

            bits, _ = symmetrized_sample(model, group, b, tf.constant(seed, tf.int64))
        bits = bits.numpy().astype(np.uint8)
        chunks.append(bits)
        energies.append(energy(bits, cfg.L, cfg.J))
        left, k = left - b, k + 1
    return np.concatenate(chunks), np.concatenate(energies)


def exact_deviation(history) -> dict:
    """Relative deviation of the variational loss from the exact curve over the annealing rows (of
    :meth:`~nm_tf.annealing.rundir.RunDir.history`) that have an exact reference (F(T) for VCA, e0(Gamma) for VQA)."""
    dev = [abs(r.loss_per_spin - r.exact_per_spin) / abs(r.exact_per_spin) for r in history
           if r.phase == "anneal" and r.exact_per_spin not in (None, 0.0)]
    if not dev:
        return {"exact_rel_deviation_median": None, "exact_rel_deviation_max": None, "exact_points": 0}
    return {"exact_rel_deviation_median": float(np.median(dev)), "exact_rel_deviation_max": float(max(dev)),
            "exact_points": len(dev)}


def summary_of(cfg, bits, e, deviation: dict, *, skipped: int, wall: float, wall_complete: bool,
               sr_qr_solves: int = 0, tallies_complete: bool = True) -> dict:
    """The summary of a finished run from its final sample (``bits``, energies ``e``) and its history's
    :func:`exact_deviation`; ``skipped`` and ``sr_qr_solves`` count over the whole anneal unless
    ``tallies_complete`` is False (resumed from a checkpoint written before those counts were kept)."""
    from ..exact import degeneracy
    from ..hamiltonian import ground_state_energy, is_ground_state

    n = cfg.L * cfg.L
    e0 = ground_state_energy(cfg.L, cfg.J)
    ground = is_ground_state(e, e0, cfg.J)
    return {
        "mode": cfg.mode, "L": cfg.L, "n_samples": int(len(e)),
        "energy_per_spin_mean": float(e.mean() / n),
        "energy_per_spin_sem": float(e.std() / n / np.sqrt(len(e))),
        "energy_per_spin_std": float(e.std() / n),
        "energy_per_spin_min": float(e.min() / n),
        "ground_state_energy_per_spin": e0 / n,
        "residual_energy_per_spin": float((e.mean() - e0) / n),
        "ground_state_fraction": float(ground.mean()),
        # True when at least one of the final samples is a ground state (not that the model is in one).
        "ground_state_in_final_sample": bool(ground.any()),
        **deviation,
        "distinct_ground_states": int(len(np.unique(bits[ground], axis=0))) if ground.any() else 0,
        "degeneracy": int(degeneracy(cfg.L)) if cfg.L <= 64 else None,
        "skipped_steps": skipped,
        **({"sr_qr_solves": sr_qr_solves} if cfg.optimizer == "sr" else {}),
        # False when the run was resumed from a checkpoint of code that did not keep these counts: then
        # skipped_steps (and sr_qr_solves) count only the steps since.
        "step_counts_complete": tallies_complete,
        "wall_seconds": round(wall, 3),
        # False when the run was resumed from a checkpoint of code that did not record its seconds:
        # then wall_seconds counts only the processes since.
        "wall_seconds_complete": wall_complete,
        **provenance(),
    }
