"""nm-tf: variational neural annealing of the Newman–Moore model in TensorFlow/Keras.

The physics core (``lattice``, ``hamiltonian``, ``exact``) needs only NumPy and
SciPy; TensorFlow is imported by the modules that use it.
"""

__version__ = "0.2.0"

from .lattice import Ordering, check_L, make_ordering, triangles  # noqa: E402
from .hamiltonian import (  # noqa: E402
    as_bits,
    energy,
    energy_tf,
    ground_state_energy,
    hamming_to_trivial,
)

__all__ = [
    "Ordering",
    "__version__",
    "as_bits",
    "check_L",
    "energy",
    "energy_tf",
    "ground_state_energy",
    "hamming_to_trivial",
    "make_ordering",
    "triangles",
]
