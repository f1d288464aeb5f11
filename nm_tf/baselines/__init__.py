"""Classical baselines for the variational anneals."""

from .pt import PTConfig, parallel_tempering
from .sa import SAConfig, simulated_annealing

__all__ = ["PTConfig", "SAConfig", "parallel_tempering", "simulated_annealing"]
