"""The network's named choices, owned here (no TensorFlow: the run configuration validates against them before
TensorFlow starts)."""

__all__ = ["CELL_TYPES", "CLOSING_INPUTS", "INITS", "MAX_PROB_FLOOR"]

CELL_TYPES = ("vanilla", "gru", "triangle", "closing")
# "closing": the triangle cell, and in the last row also the two row-0 spins of the site's closing triangles
# (the periodic lattice's row L - 1 triangles reach through row 0; RNN2DCell's docstring has the maths).
CLOSING_INPUTS = 4            # one-hots of (x, 0) and (x - 1, 0): zeros in every row but the last
# "glorot": one Glorot-uniform draw for the stacked [W_h; W_v] kernel, zero biases (ours).
# "authors": the authors' public code: separate Glorot-uniform draws for W_h and W_v ([d + 2, d] each, so a
# wider range), and a Glorot-uniform (non-zero) hidden bias; the output layer as ours (Glorot, zero bias).
INITS = ("glorot", "authors")
MAX_PROB_FLOOR = 0.1          # the largest probability floor a conditional accepts (cell.prob_of_one)
