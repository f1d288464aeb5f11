"""Classical baselines for the variational anneals."""

from .sa import SAConfig, simulated_annealing

__all__ = ["SAConfig", "simulated_annealing"]
