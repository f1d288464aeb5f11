"""Apply a batched function in memory-bounded passes."""

from __future__ import annotations

import tensorflow as tf

__all__ = ["map_in_chunks"]


def map_in_chunks(fn, rows, budget: int, dtype):
    """``fn`` over the rows of ``rows`` (``[R, ...]``) in the fewest equal passes of at most ``budget``
    rows each, so the padding is under one row per pass; with a static ``R`` the pass sizes are static
    (XLA) and a single pass calls ``fn`` directly. ``fn`` maps ``[r, ...] -> [r, ...]`` of ``dtype``."""
    budget = max(1, int(budget))
    static = rows.shape[0]
    if static is not None:
        n_chunks = -(-static // budget)
        if n_chunks <= 1:
            return fn(rows)
        total, size = static, -(-static // n_chunks)
    else:
        total = tf.shape(rows)[0]
        n_chunks = (total + budget - 1) // budget
        size = (total + n_chunks - 1) // n_chunks
    padded = tf.pad(rows, [[0, n_chunks * size - total]] + [[0, 0]] * (len(rows.shape) - 1))
    out = tf.map_fn(fn, tf.reshape(padded, tf.concat([[n_chunks, size], tf.shape(rows)[1:]], 0)),
                    fn_output_signature=dtype, parallel_iterations=1)
    return tf.reshape(out, tf.concat([[n_chunks * size], tf.shape(out)[2:]], 0))[:total]
