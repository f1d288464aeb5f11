"""Serving graph functions: sampling, log p and Hamming-distance statistics.

Output encoding: ``spins`` are int8 bits (1 = down, site order ``x + L*y``); ``energy`` is the
total energy ``H`` of a configuration and ``energy_per_spin`` is ``H / N`` (units of J);
``hamming_to_trivial`` counts spins that differ from the all-down state (Eq. 9).
"""

from __future__ import annotations

import tensorflow as tf

from ..hamiltonian import energy_tf, ground_state_energy, is_ground_state
from ..models.rnn import uniforms_from_seed
from ..models.symmetry import MAX_EXACT_GROUP, apply_uniform_elements, symmetrized_log_prob
from ..servable import HAMMING_STATS, LOG_PROB, NUM_SAMPLES, SAMPLE, SEED, SPINS

__all__ = ["PAIRWISE_LIMIT", "XLA_BUCKETS", "make_serving_functions"]

PAIRWISE_LIMIT = 2048  # pairwise Hamming histogram over the first this-many samples (B^2 memory)
# Static batch sizes of the XLA-compiled sampler: a request of n samples runs in the smallest bucket
# >= n (the uniforms padded, the answer sliced), larger requests in chunks of the largest bucket.
# Round request sizes (100, 1000, 10 000) pay no padding; in between at most 2.5x.
XLA_BUCKETS = (16, 100, 250, 1000, 2500, 10_000)


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


def _bucketed_scan(model, buckets):
    """``scan(u [L, L, n]) -> (bits [n, N], log_p [n])`` through XLA functions of static batch sizes.

    The uniforms are drawn outside XLA from the request's seed with the request's own size, so
    the samples equal those of ``model.sample(n, seed)``; padding rows are discarded.
    """
    buckets = sorted(int(b) for b in buckets)
    compiled = {b: tf.function(lambda u, b=b: model.scan(b, uniforms=u), jit_compile=True) for b in buckets}
    largest = buckets[-1]

    def in_bucket(b, u, n):
        bits, log_p = compiled[b](tf.pad(u, [[0, 0], [0, 0], [0, b - n]]))
        return bits[:n], log_p[:n]

    def scan(u):
        n = tf.shape(u)[2]

        def chunked():   # n > largest: chunks of the largest bucket, the last one padded
            chunks = (n + largest - 1) // largest

            def body(k, bits_ta, lp_ta):
                part = u[:, :, k * largest:(k + 1) * largest]
                bits, log_p = in_bucket(largest, part, tf.shape(part)[2])
                return k + 1, bits_ta.write(k, bits), lp_ta.write(k, log_p)

            _, bits_ta, lp_ta = tf.while_loop(
                lambda k, *_: k < chunks, body,
                (tf.constant(0), tf.TensorArray(tf.int32, size=chunks, infer_shape=False),
                 tf.TensorArray(u.dtype, size=chunks, infer_shape=False)))
            return bits_ta.concat(), lp_ta.concat()

        index = tf.searchsorted(tf.constant(buckets), tf.reshape(n, [1]), side="left")[0]
        branches = [lambda b=b: in_bucket(b, u, n) for b in buckets] + [chunked]
        bits, log_p = tf.switch_case(tf.cast(index, tf.int32), branches)
        return tf.ensure_shape(bits, [None, model.n_sites]), tf.ensure_shape(log_p, [None])

    return scan


def make_serving_functions(model, J: float = 1.0, xla_buckets=None, symmetry=None):
    """Return ``{"sample": fn, "log_prob": fn, "hamming_stats": fn}`` plus input signatures.

    ``xla_buckets``: None (default) runs the sampler in graph mode. A tuple of batch sizes
    (e.g. :data:`XLA_BUCKETS`) compiles one XLA sampler per size: a request pads up to the
    smallest bucket that holds it (larger ones run in chunks of the largest), so a served
    model compiles once per bucket, at warm-up, instead of once per new ``num_samples``.
    Either way the same seed gives the same samples as ``model.sample``.

    ``symmetry``: a :class:`~nm_tf.models.symmetry.SymmetryGroup`: the signatures serve the
    symmetrised ``p_G`` (each sample moved by a uniform group element drawn from the request's
    seed); ``log_prob`` is the exact ``log p_G`` when ``|G|`` is within the bound, and an error
    naming the bound otherwise (in ``sample``'s output it is then NaN). The functions
    validate their inputs in-graph, so a bad request fails with ``InvalidArgumentError``
    and a message naming the input.
    """
    L, n = model.L, model.n_sites
    e0 = ground_state_energy(L, J)
    scan = _bucketed_scan(model, xla_buckets) if xla_buckets else None
    exact_g = symmetry is not None and symmetry.order <= MAX_EXACT_GROUP

    def _draw(num_samples, seed):
        tf.debugging.assert_positive(num_samples, message="num_samples must be > 0")
        if scan is None:
            bits, log_p = model.sample_graph(num_samples, seed)
        else:
            bits, log_p = scan(uniforms_from_seed(tf.stack([L, L, num_samples]), seed, model.rnn_cell.compute_dtype))
        if symmetry is not None:
            bits = apply_uniform_elements(symmetry, bits, seed)
            log_p = _log_prob(bits) if exact_g else tf.fill(tf.shape(log_p), tf.constant(float("nan"), log_p.dtype))
        energy = energy_tf(bits, L, J)
        hamming = n - tf.reduce_sum(bits, axis=1)
        return bits, log_p, energy, hamming

    def _log_prob(bits):
        if symmetry is None:
            return model.log_prob_graph(bits)
        if not exact_g:
            # Refuse every call, at run time: with constant operands the assertion would fire while the
            # signature is traced, i.e. the export itself would fail.
            refused = tf.debugging.assert_less(tf.shape(bits)[0], 0, message=(
                f"log_prob of the symmetrised model needs |G| <= {MAX_EXACT_GROUP}; this export has "
                f"|G| = {symmetry.order}"))
            with tf.control_dependencies([refused]):
                return tf.zeros(tf.shape(bits)[:1], model.rnn_cell.compute_dtype)
        return symmetrized_log_prob(model, symmetry, bits)

    def sample(num_samples, seed):
        bits, log_p, energy, hamming = _draw(num_samples, seed)
        return {SPINS: tf.cast(bits, tf.int8), LOG_PROB: tf.cast(log_p, tf.float32),
                "energy": tf.cast(energy, tf.float32), "energy_per_spin": tf.cast(energy / n, tf.float32),
                "hamming_to_trivial": tf.cast(hamming, tf.int32),
                "is_ground_state": is_ground_state(energy, e0, J)}

    def log_prob(spins):
        tf.debugging.assert_equal(tf.reduce_all((spins == 0) | (spins == 1)), True,
                                  message="spins must be bits in {0, 1}")
        return {LOG_PROB: tf.cast(_log_prob(tf.cast(spins, tf.int32)), tf.float32)}

    def hamming_stats(num_samples, seed):
        bits, _, energy, hamming = _draw(num_samples, seed)
        ground = is_ground_state(energy, e0, J)
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

    draw_sig = [tf.TensorSpec([], tf.int32, name=NUM_SAMPLES), tf.TensorSpec([2], tf.int64, name=SEED)]
    return {
        SAMPLE: (sample, draw_sig),
        LOG_PROB: (log_prob, [tf.TensorSpec([None, n], tf.int8, name=SPINS)]),
        HAMMING_STATS: (hamming_stats, draw_sig),
    }
