"""Neural-network ansatzes."""

from .cell import CELL_TYPES, INITS, RNN2DCell
from .factory import MODEL_FIELDS, build_model
from .rnn import NewmanMooreRNN, seed_tensor, uniforms_from_seed

__all__ = ["CELL_TYPES", "INITS", "MODEL_FIELDS", "NewmanMooreRNN", "RNN2DCell", "build_model", "seed_tensor",
           "uniforms_from_seed"]
