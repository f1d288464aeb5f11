"""Exact references for the Newman–Moore model (GF(2) algebra, MacWilliams, Lanczos)."""

from .gf2 import (
    degeneracy,
    ground_states,
    kernel_basis,
    log2_degeneracy,
    parity_matrix,
)
from .thermo import dual_weight_distribution, thermodynamics
from .quantum import quantum_ground_energy, quantum_ground_energy_dense

__all__ = [
    "degeneracy",
    "dual_weight_distribution",
    "ground_states",
    "kernel_basis",
    "log2_degeneracy",
    "parity_matrix",
    "quantum_ground_energy",
    "quantum_ground_energy_dense",
    "thermodynamics",
]
