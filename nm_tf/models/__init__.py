"""Neural-network ansatzes."""

from .cell import CELL_TYPES, RNN2DCell
from .rnn import NewmanMooreRNN, seed_tensor, uniforms_from_seed

__all__ = ["CELL_TYPES", "NewmanMooreRNN", "RNN2DCell", "seed_tensor", "uniforms_from_seed"]
