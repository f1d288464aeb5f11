"""Serving graph functions: sampling, log p and Hamming-distance statistics.

Output encoding: ``spins`` are int8 bits (1 = down, site order ``x + L*y``);
``hamming_to_trivial`` counts spins that differ from the all-down state (Eq. 9).
"""

from __future__ import annotations

import tensorflow as tf

from ..hamiltonian import energy_tf

__all__ = ["PAIRWISE_LIMIT", "make_serving_functions"]

PAIRWISE_LIMIT = 2048  # pairwise Hamming histogram over the first this-many samples (B^2 memory)


def _pack_rows(bits):
    """Pack int bits ``[B, N]`` into int64 words ``[B, ceil(N/62)]`` for row-uniqueness."""
    n = bits.shape[-1]
    width = 62
    words = -(-n // width)
    padded = tf.pad(tf.cast(bits, tf.int64), [[0, 0], [0, words * width - n]])
    powers = tf.bitwise.left_shift(tf.constant(1, tf.int64), tf.range(width, dtype=tf.int64))
    return tf.reduce_sum(tf.reshape(padded, [-1, words, width]) * powers, axis=-1)


def distinct_rows(bits):
    """Number of distinct rows of int bits ``[B, N]`` (int64 scalar)."""
    packed = _pack_rows(bits)
    uniq = tf.raw_ops.UniqueV2(x=packed, axis=tf.constant([0], tf.int64))
    return tf.cast(tf.shape(uniq.y)[0], tf.int64)


def make_serving_functions(model, J: float = 1.0):
    """Return ``{"sample": fn, "log_prob": fn, "hamming_stats": fn}`` plus input signatures.

    The functions run in graph mode without XLA (a served XLA graph recompiles
    for every new ``num_samples``) and validate their inputs in-graph, so a bad
    request fails with ``InvalidArgumentError`` and a message naming the input.
    """
    L, n = model.L, model.n_sites
    e0 = -0.5 * J * n

    def _draw(num_samples, seed):
        tf.debugging.assert_positive(num_samples, message="num_samples must be > 0")
        bits, log_p = model.sample_graph(num_samples, seed)
        energy = energy_tf(bits, L, J)
        hamming = n - tf.reduce_sum(bits, axis=1)
        return bits, log_p, energy, hamming

    def sample(num_samples, seed):
        bits, log_p, energy, hamming = _draw(num_samples, seed)
        return {"spins": tf.cast(bits, tf.int8), "log_prob": tf.cast(log_p, tf.float32),
                "energy": tf.cast(energy, tf.float32), "hamming_to_trivial": tf.cast(hamming, tf.int32),
                "is_ground_state": energy <= e0 + 1e-6}

    def log_prob(spins):
        tf.debugging.assert_equal(tf.reduce_all((spins == 0) | (spins == 1)), True,
                                  message="spins must be bits in {0, 1}")
        return {"log_prob": tf.cast(model.log_prob_graph(tf.cast(spins, tf.int32)), tf.float32)}

    def hamming_stats(num_samples, seed):
        bits, _, energy, hamming = _draw(num_samples, seed)
        ground = energy <= e0 + 1e-6
        first = bits[:PAIRWISE_LIMIT]
        ones = tf.cast(first, tf.float32)
        weight = tf.reduce_sum(ones, axis=1)
        dist = weight[:, None] + weight[None, :] - 2.0 * tf.matmul(ones, ones, transpose_b=True)
        m = tf.shape(first)[0]
        upper = tf.linalg.band_part(tf.ones([m, m]), 0, -1) - tf.linalg.band_part(tf.ones([m, m]), 0, 0)
        pairs = tf.boolean_mask(tf.cast(tf.round(dist), tf.int32), upper > 0)
        return {
            "hamming_histogram": tf.ensure_shape(
                tf.math.bincount(hamming, minlength=n + 1, maxlength=n + 1, dtype=tf.int64), [n + 1]),
            "mean_hamming": tf.reduce_mean(tf.cast(hamming, tf.float32)),
            "ground_state_fraction": tf.reduce_mean(tf.cast(ground, tf.float32)),
            "distinct_ground_states": distinct_rows(tf.boolean_mask(bits, ground)),
            "pairwise_hamming_histogram": tf.ensure_shape(tf.math.bincount(
                pairs, minlength=n + 1, maxlength=n + 1,
                dtype=tf.int64), [n + 1]),
        }

    draw_sig = [tf.TensorSpec([], tf.int32, name="num_samples"), tf.TensorSpec([2], tf.int64, name="seed")]
    return {
        "sample": (sample, draw_sig),
        "log_prob": (log_prob, [tf.TensorSpec([None, n], tf.int8, name="spins")]),
        "hamming_stats": (hamming_stats, draw_sig),
    }
