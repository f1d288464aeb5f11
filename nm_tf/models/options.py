"""The network's named choices, owned here (no TensorFlow: the run configuration validates against them before
TensorFlow starts)."""

__all__ = ["CELL_TYPES", "INITS", "MAX_PROB_FLOOR"]

CELL_TYPES = ("vanilla", "gru", "triangle")
# "glorot": one Glorot-uniform draw for the stacked [W_h; W_v] kernel, zero biases (ours).
# "authors": the authors' public code: separate Glorot-uniform draws for W_h and W_v ([d + 2, d] each, so a
# wider range), and a Glorot-uniform (non-zero) hidden bias; the output layer as ours (Glorot, zero bias).
INITS = ("glorot", "authors")
MAX_PROB_FLOOR = 0.1          # the largest probability floor a conditional accepts (cell.prob_of_one)
