"""Exact references for the Newman–Moore model (GF(2) algebra, MacWilliams, Lanczos)."""

from .gf2 import (
    degeneracy,
    ground_states,
    inverse_parity_matrix,
    kernel_basis,
    log2_degeneracy,
    parity_matrix,
)
from .thermo import boltzmann_samples, dual_weight_distribution, ground_state_weight, thermodynamics
from .quantum import quantum_ground_energy, quantum_ground_energy_dense


def clear_caches():
    """Forget the cached kernels and weight distributions (cold-cache timings)."""
    from .gf2 import _inverse, _kernel
    from .thermo import _weights

    _inverse.cache_clear()
    _kernel.cache_clear()
    _weights.cache_clear()


__all__ = [
    "boltzmann_samples",
    "clear_caches",
    "degeneracy",
    "dual_weight_distribution",
    "ground_state_weight",
    "ground_states",
    "inverse_parity_matrix",
    "kernel_basis",
    "log2_degeneracy",
    "parity_matrix",
    "quantum_ground_energy",
    "quantum_ground_energy_dense",
    "thermodynamics",
]
