"""The closing cell: the triangle cell whose last row also sees the row-0 spins of the triangles that close the
periodic lattice, (x, 0) and (x - 1, 0) for site (x, L - 1)."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from nm_tf.models import NewmanMooreRNN


def all_bits(L):
    return np.array(list(itertools.product((0, 1), repeat=L * L)), dtype=np.int32)


@pytest.mark.parametrize("ordering", ["zigzag", "raster", "raster-wrap"])
def test_probabilities_sum_to_one_and_sampling_matches_teacher_forcing(ordering):
    L = 3
    m = NewmanMooreRNN(L, hidden=5, cell="closing", ordering=ordering, seed=1, dtype="float64", jit_compile=False)
    k = m.rnn_cell.input_size
    rng = np.random.default_rng(0)
    m.rnn_cell.kernel.assign(m.rnn_cell.kernel.numpy() + np.pad(rng.normal(size=(4, 5)), [[k - 4, 0], [0, 0]]))
    assert np.exp(m.log_prob(all_bits(L)).numpy()).sum() == pytest.approx(1.0, abs=1e-12)
    bits, lp = m.sample(50, seed=3)
    np.testing.assert_allclose(lp.numpy(), m.log_prob(bits.numpy()).numpy(), atol=1e-12)
    np.testing.assert_allclose(m.row_log_probs(bits).numpy().sum(1), lp.numpy(), atol=1e-12)


def _closing_only_weights(m, a=5.0, b=3.0):
    """Kernel zero but for the closing inputs: the last row's logit of bit 1 is ``a b(x, 0) + b b(x - 1, 0)``
    (ELU is the identity on positives), every other site's is 0."""
    d, k = m.hidden, m.rnn_cell.input_size
    kernel = np.zeros((k, d))
    kernel[k - 3, 0] = a                      # inputs k-4..k-1: onehot (x, 0) = [bit 0, bit 1], onehot (x-1, 0)
    kernel[k - 1, 1] = b
    out = np.zeros((d, 2))
    out[0, 1] = out[1, 1] = 1.0
    return [kernel, np.zeros(d), out, np.zeros(2)]


@pytest.mark.parametrize("ordering,L", [("zigzag", 4), ("zigzag", 5), ("raster", 4), ("raster-wrap", 5)])
def test_last_row_sees_its_closing_triangles_row0_spins(ordering, L):
    m = NewmanMooreRNN(L, hidden=3, cell="closing", ordering=ordering, seed=0, dtype="float64", jit_compile=False)
    m.set_weights(_closing_only_weights(m))

    def expect(bits):
        rows = bits.reshape(-1, L, L)                                   # [B, y, x]
        z = 5.0 * rows[:, 0] + 3.0 * np.roll(rows[:, 0], 1, axis=1)      # site (x, L - 1): (x, 0), (x - 1, 0)
        s = 2.0 * rows[:, -1] - 1.0
        return -(L - 1) * L * np.log(2.0) - np.logaddexp(0.0, -s * z).sum(1)

    bits = np.random.default_rng(1).integers(0, 2, size=(64, L * L)).astype(np.int32)
    np.testing.assert_allclose(m.log_prob(bits).numpy(), expect(bits), atol=1e-12)
    sampled, lp = m.sample(4000, seed=2)
    np.testing.assert_allclose(lp.numpy(), expect(sampled.numpy()), atol=1e-12)
    rows = sampled.numpy().reshape(-1, L, L)
    both = (rows[:, 0] == 1) & (np.roll(rows[:, 0], 1, axis=1) == 1)          # logit 8: p(bit 1) = 0.99966
    assert rows[:, -1][both].mean() > 0.99
    assert abs(rows[:, -1][~both & (rows[:, 0] == 0) & (np.roll(rows[:, 0], 1, axis=1) == 0)].mean() - 0.5) < 0.05


def test_gradients_sampled_equal_teacher_forced_and_config_round_trip(tmp_path):
    m = NewmanMooreRNN(4, hidden=40, cell="closing", seed=0)
    assert sum(int(np.prod(v.shape)) for v in m.trainable_variables) == (3 * 42 + 4) * 40 + 40 + 80 + 2
    again = NewmanMooreRNN.from_config(m.get_config())
    assert again.cell_type == "closing" and again.rnn_cell.input_size == 3 * 42 + 4
    m.save_weights(tmp_path / "w.weights.h5")
    again.load_weights(tmp_path / "w.weights.h5")
    s = m.sample(5, seed=1)[0].numpy()
    np.testing.assert_allclose(again.log_prob(s).numpy(), m.log_prob(s).numpy(), atol=1e-5)
    m = NewmanMooreRNN(4, hidden=6, cell="closing", seed=2, dtype="float64", jit_compile=False)
    u = tf.random.stateless_uniform([4, 4, 12], seed=[3, 4], dtype=tf.float64)
    upstream = tf.constant(np.random.default_rng(0).normal(size=12))
    with tf.GradientTape(persistent=True) as tape:
        bits, lp = m.scan(12, uniforms=u)
        sampled = tf.reduce_sum(upstream * lp)
        forced = tf.reduce_sum(upstream * m.log_prob_graph(bits))
    for a, b in zip(tape.gradient(sampled, m.trainable_variables), tape.gradient(forced, m.trainable_variables)):
        assert np.abs(a.numpy()).max() > 0
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ordering", ["zigzag", pytest.param("raster-wrap", marks=pytest.mark.slow)])
def test_single_flips_carry_each_copys_row_0_into_its_last_row(ordering):
    """VQA's suffix passes with the closing cell: a flip in row 0 changes the last row's inputs too; every flip's
    log p equals a full teacher-forced pass, from the model's own pass, from a kept pass, under XLA, and with an
    ensemble's stacked weights."""
    from nm_tf.annealing.ensemble import stack_weights

    L, B = 4, 5
    members = [NewmanMooreRNN(L, hidden=6, cell="closing", ordering=ordering, seed=s, dtype="float64",
                              jit_compile=False) for s in (2, 3)]
    m = members[0]
    u = tf.random.stateless_uniform([L, L, B], seed=[1, 2], dtype=tf.float64)
    bits, _, hs, sb = m.scan(B, uniforms=u, keep=True)
    eye = np.eye(L * L, dtype=np.int32)

    def reference(model, b):
        return np.stack([model.log_prob(b ^ eye[i]).numpy() for i in range(L * L)], axis=1)

    expect = reference(m, bits.numpy())
    np.testing.assert_allclose(m.single_flip_log_probs(bits).numpy(), expect, atol=1e-12)
    np.testing.assert_allclose(m.single_flip_log_probs(bits, kept=(hs, sb)).numpy(), expect, atol=1e-12)
    xla = tf.function(m.single_flip_log_probs, jit_compile=True)(bits).numpy()
    np.testing.assert_allclose(xla, expect, atol=1e-12)
    both = np.stack([bits.numpy(), np.random.default_rng(0).integers(0, 2, size=(B, L * L)).astype(np.int32)])
    stacked = m.single_flip_log_probs(tf.constant(both), weights=stack_weights(members)).numpy()
    for k, member in enumerate(members):
        np.testing.assert_allclose(stacked[k], reference(member, both[k]), atol=1e-12)


def test_vqa_with_the_closing_cell_reaches_the_ground_state(tmp_path):
    from nm_tf.annealing.config import AnnealConfig
    from nm_tf.annealing.driver import anneal

    s = anneal(AnnealConfig(L=3, mode="vqa", cell="closing", gamma0=2.0, warmup=50, annealing_steps=100,
                            train_steps=2, hidden=8, lr=0.01, final_samples=2000), tmp_path / "r")
    assert s["ground_state_fraction"] > 0.8 and s["ground_state_in_final_sample"]
