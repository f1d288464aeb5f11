"""Mode-collapse analysis (paper Sec. IV, Fig. 6): coverage of the exact ground-state set, KL to
uniform, Hamming distances to the trivial state, PCA."""

from .analysis import analyse, pca
from .report import run_modes

__all__ = ["analyse", "pca", "run_modes"]
