"""The triangle cell: the conditional of (x, y) sees both parents (x, y-1) and (x+1 mod L, y-1) of the downward
triangle that fixes it in a ground state."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from nm_tf.hamiltonian import energy, ground_state_energy
from nm_tf.models import NewmanMooreRNN


def all_bits(L):
    return np.array(list(itertools.product((0, 1), repeat=L * L)), dtype=np.int32)


@pytest.mark.parametrize("ordering", ["zigzag", "raster", "raster-wrap"])
@pytest.mark.parametrize("L", [3, 4])
def test_probabilities_sum_to_one(ordering, L):
    m = NewmanMooreRNN(L, hidden=5, cell="triangle", ordering=ordering, seed=1, dtype="float64", jit_compile=False)
    assert np.exp(m.log_prob(all_bits(L)).numpy()).sum() == pytest.approx(1.0, abs=1e-12)


# Default-suite budget (session 27): the other cases with `-m slow`.
@pytest.mark.parametrize("ordering", ["zigzag", pytest.param("raster-wrap", marks=pytest.mark.slow)])
def test_autoregressive_sampling_gradients_and_flips(ordering):
    L, B = 4, 12
    m = NewmanMooreRNN(L, hidden=6, cell="triangle", ordering=ordering, seed=2, dtype="float64", jit_compile=False)
    order = m._sites_to_steps.numpy()
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2, size=(3, L * L)).astype(np.int32)
    for j in (3, 6, 9):                 # a spin at step j never changes the conditionals before it
        flipped = base.copy()
        flipped[:, order[j]] ^= 1
        tails = np.array(list(itertools.product((0, 1), repeat=L * L - j)), dtype=np.int32)

        def marginal(bits):
            full = np.repeat(bits, len(tails), axis=0)
            full[:, order[j:]] = np.tile(tails, (len(bits), 1))
            return np.log(np.exp(m.log_prob(full).numpy().reshape(len(bits), -1)).sum(1))
        np.testing.assert_allclose(marginal(base), marginal(flipped), atol=1e-12)
    u = tf.random.stateless_uniform([L, L, B], seed=[3, 4], dtype=tf.float64)
    upstream = tf.constant(rng.normal(size=B))
    with tf.GradientTape(persistent=True) as tape:
        bits, lp, hs, sb = m.scan(B, uniforms=u, keep=True)
        sampled = tf.reduce_sum(upstream * lp)
        forced = tf.reduce_sum(upstream * m.log_prob_graph(bits))
    np.testing.assert_allclose(lp.numpy(), m.log_prob(bits.numpy()).numpy(), atol=1e-12)
    for a, b in zip(tape.gradient(sampled, m.trainable_variables), tape.gradient(forced, m.trainable_variables)):
        assert np.abs(a.numpy()).max() > 0
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    eye = np.eye(L * L, dtype=np.int32)
    expect = np.stack([m.log_prob(bits.numpy() ^ eye[i]).numpy() for i in range(L * L)], axis=1)
    np.testing.assert_allclose(m.single_flip_log_probs(bits, kept=(hs, sb)).numpy(), expect, atol=1e-12)
    xla = tf.function(m.single_flip_log_probs, jit_compile=True)(bits).numpy()
    np.testing.assert_allclose(xla, expect, atol=1e-12)


def _triangle_rule_weights(L, scale=200.0):
    """Hand-set weights (3 hidden units) for which row 0 is uniform and every later site is
    b(x, y) = 1 xor b(x, y-1) xor b(x+1, y-1), the ground-state rule of the triangle above it."""
    d = 3
    elu = lambda v: v if v > 0 else np.expm1(v)  # noqa: E731
    kernel = np.zeros((3 * (d + 2), d))
    up, ur = 2 * d + 2, 3 * d + 4               # rows of onehot_up and onehot_upright: [bit 0, bit 1]
    for r in (up, ur):
        kernel[r + 1, 0] = 1.0                  # h0 = ELU(a1 + b1 - 1.5): > 0 only when both bits are 1
        kernel[r, 1] = 1.0                      # h1 = ELU(a0 + b0 - 1.5): > 0 only when both bits are 0
    kernel[up:up + 2, 2] = -2.0                 # h2 = ELU(1 - 2 (a0 + a1)): 1 in row 0, ELU(-1) below
    bias = np.array([-1.5, -1.5, 1.0])
    same, differ, top = elu(0.5) + elu(-1.5), 2 * elu(-0.5), 2 * elu(-1.5)
    c = -(same + differ) / 2                    # rows >= 1: +-(same - differ)/2 around 0
    lam = -(top + c) / (elu(1.0) - elu(-1.0))   # row 0: the third unit cancels the rest
    u = scale * np.array([1.0, 1.0, lam])
    c_total = scale * (c - lam * elu(-1.0))
    return [kernel, bias, np.stack([np.zeros(d), u], axis=1), np.array([0.0, c_total])]


@pytest.mark.parametrize("ordering", ["zigzag", "raster-wrap"])
@pytest.mark.parametrize("L", [3, 6])
def test_hand_set_weights_express_the_ground_state_rule(ordering, L):
    m = NewmanMooreRNN(L, hidden=3, cell="triangle", ordering=ordering, seed=0, dtype="float64", jit_compile=False)
    m.set_weights(_triangle_rule_weights(L))
    bits, log_p = m.sample(4000, seed=5)
    bits = bits.numpy()
    np.testing.assert_allclose(log_p.numpy(), -L * np.log(2.0), atol=1e-6)   # row 0 uniform, the rest certain
    rows = bits.reshape(-1, L, L)
    np.testing.assert_array_equal(rows[:, 1:], 1 ^ rows[:, :-1] ^ np.roll(rows[:, :-1], -1, axis=2))
    first = {tuple(r) for r in rows[:, 0]}
    assert len(first) == 2 ** L                 # every first row appears
    # A sample is a ground state exactly when its first row is a valid one (the wrap-around triangles hold)
    wrap_ok = np.all(rows[:, 0] == 1 ^ rows[:, -1] ^ np.roll(rows[:, -1], -1, axis=1), axis=1)
    ground = energy(bits, L) == ground_state_energy(L)
    np.testing.assert_array_equal(ground, wrap_ok)
    assert ground.any() and not ground.all()


def test_triangle_cell_config_and_parameters(tmp_path):
    m = NewmanMooreRNN(4, hidden=40, cell="triangle", seed=0)
    assert sum(int(np.prod(v.shape)) for v in m.trainable_variables) == 3 * 42 * 40 + 40 + 80 + 2
    again = NewmanMooreRNN.from_config(m.get_config())
    assert again.cell_type == "triangle" and again.rnn_cell.input_size == 3 * 42
    m.save_weights(tmp_path / "w.weights.h5")
    again.load_weights(tmp_path / "w.weights.h5")
    s = m.sample(5, seed=1)[0].numpy()
    np.testing.assert_allclose(again.log_prob(s).numpy(), m.log_prob(s).numpy(), atol=1e-5)


# The closing cell anneals to the ground state in test_closing_cell.py; its serving run is `slow` (default-suite
# budget).
@pytest.mark.parametrize("cell", ["triangle", pytest.param("closing", marks=pytest.mark.slow)])
def test_triangle_cell_anneals_exports_and_serves(tmp_path, cell):
    """An L = 3 anneal reaches the ground state, and the exported log_prob signature is normalised (the closing
    cell: the triangle cell whose last row also sees row 0's closing corners)."""
    from nm_tf.annealing.config import AnnealConfig
    from nm_tf.annealing.driver import anneal
    from nm_tf.export import export_run

    s = anneal(AnnealConfig(L=3, cell=cell, T0=2.0, warmup=50, annealing_steps=100, train_steps=2, hidden=8,
                            lr=0.01, final_samples=2000), tmp_path / "r")
    assert s["ground_state_fraction"] > 0.8
    path = export_run(tmp_path / "r", tmp_path / "models", "tri", xla=False)
    served = tf.saved_model.load(str(path)).signatures["log_prob"]
    lp = served(spins=tf.constant(all_bits(3), tf.int8))["log_prob"].numpy().astype(np.float64)
    assert np.exp(lp).sum() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("cell,ordering,L", [("triangle", "zigzag", 4), ("triangle", "zigzag", 5),
                                             ("triangle", "raster", 4), ("triangle", "raster-wrap", 5),
                                             ("closing", "zigzag", 4), ("closing", "zigzag", 5),
                                             ("closing", "raster-wrap", 4)])
def test_hand_written_backward_pass_equals_autodiff(cell, ordering, L):
    """The triangle cell's hand-written gradient (default) against TensorFlow's autodiff, float64: the site also
    feeds the one below and to the left, in every ordering (odd L: the zigzag's rolls at both row parities). The
    closing cell's row-0 inputs are bits, so its pass only adds their kernel rows. Also SR's per-sample scores."""
    from nm_tf.annealing.sr import per_sample_scores

    models = [NewmanMooreRNN(L, hidden=5, cell=cell, seed=3, ordering=ordering, dtype="float64",
                             jit_compile=False, manual_backprop=m) for m in (True, False)]
    upstream = tf.constant(np.random.default_rng(1).normal(size=24))
    grads = []
    for m in models:
        with tf.GradientTape(persistent=True) as tape:
            bits, lp = m.sample_graph(24, tf.constant([4, 2], tf.int64))
            sampled = tf.reduce_sum(upstream * lp)
            forced = tf.reduce_sum(upstream * m.log_prob_graph(bits))
        grads.append((bits.numpy(), tape.gradient(sampled, m.trainable_variables),
                      tape.gradient(forced, m.trainable_variables), per_sample_scores(m, bits, m.trainable_variables)))
    (bm, gs_m, gt_m, sc_m), (ba, gs_a, _, sc_a) = grads
    np.testing.assert_array_equal(bm, ba)
    assert models[0].hand_written_backprop and not models[1].hand_written_backprop
    if cell == "closing":                                         # the last four kernel rows: the closing inputs
        assert np.abs(gs_a[0].numpy()[-4:]).max() > 0
    for s, t, a in zip(gs_m, gt_m, gs_a):
        assert np.abs(a.numpy()).max() > 0
        np.testing.assert_allclose(s.numpy(), a.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(t.numpy(), a.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sc_m.numpy(), sc_a.numpy(), rtol=1e-10, atol=1e-12)
