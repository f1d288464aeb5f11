"""Stochastic reconfiguration: per-sample scores, the minSR solve against the dense (S + eps I)^-1 g, the
compiled step's update, and a short anneal."""

import numpy as np
import pytest
import tensorflow as tf

from nm_tf.annealing import AnnealConfig
from nm_tf.annealing.losses import local_losses, make_train_step
from nm_tf.annealing.sr import per_sample_scores, sr_direction
from nm_tf.errors import UsageError
from nm_tf.models import NewmanMooreRNN

L = 3


def dense_scores(model, bits):
    """Each sample's gradient by its own tape (the model's own backward pass, hand-written for vanilla)."""
    rows = []
    for b in bits:
        with tf.GradientTape() as tape:
            lp = model.log_prob_graph(tf.constant(b[None]))
        rows.append(np.concatenate([g.numpy().ravel() for g in tape.gradient(lp, model.trainable_variables)]))
    return np.array(rows)


@pytest.mark.parametrize("cell, ordering, manual", [("vanilla", "zigzag", True), ("triangle", "zigzag", True),
                                                    ("vanilla", "raster-wrap", True), ("triangle", "raster", True),
                                                    ("vanilla", "zigzag", False), ("gru", "zigzag", True)])
def test_per_sample_scores_equal_one_tape_per_sample(cell, ordering, manual):
    """The hand-written per-sample pass (vanilla, triangle) and the tiled autodiff one (GRU, or without it)."""
    m = NewmanMooreRNN(L, hidden=4, cell=cell, ordering=ordering, seed=2, dtype="float64", jit_compile=False,
                       manual_backprop=manual)
    bits = np.random.default_rng(0).integers(0, 2, size=(7, L * L)).astype(np.int32)
    got = per_sample_scores(m, tf.constant(bits), m.trainable_variables).numpy()
    np.testing.assert_allclose(got, dense_scores(m, bits), atol=1e-12)


@pytest.mark.parametrize("quantum", [False, True])
@pytest.mark.parametrize("B", [12, 200])            # fewer samples than parameters (62), and more
def test_min_sr_equals_dense_solve(B, quantum):
    m = NewmanMooreRNN(L, hidden=4, seed=3, dtype="float64", jit_compile=False)
    rng = np.random.default_rng(B)
    bits = rng.integers(0, 2, size=(B, L * L)).astype(np.int32)
    loc = rng.normal(size=B)
    o = per_sample_scores(m, tf.constant(bits), m.trainable_variables).numpy()   # = one tape per sample (above)
    g = ((loc - loc.mean())[:, None] * o).mean(0)
    oc = o - o.mean(0)
    S = (0.25 if quantum else 1.0) * oc.T @ oc / B
    eps = 0.03
    want = np.linalg.solve(S + eps * np.eye(len(S)), g)
    got = sr_direction(tf.constant(o), tf.constant(loc), eps, quantum, m.trainable_variables)
    assert [t.shape for t in got] == [v.shape for v in m.trainable_variables]
    np.testing.assert_allclose(np.concatenate([t.numpy().ravel() for t in got]), want, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("minibatch", [None, 8])
def test_step_applies_sgd_along_the_sr_direction(minibatch):
    """One update on 8 samples, through the full-batch step and through the mini-batch step (one mini-batch)."""
    m = NewmanMooreRNN(L, hidden=4, seed=4, dtype="float64", jit_compile=False)
    lr, eps, T, n = 0.1, 0.05, 1.5, 8
    step = make_train_step(m, tf.keras.optimizers.SGD(lr), n, jit_compile=False, sr_shift=eps, minibatch=minibatch)
    seed = tf.constant([5, 6], tf.int64)
    before = [v.numpy().copy() for v in m.trainable_variables]
    bits = m.sample_graph(n, seed)[0]                      # the step's own draw
    loc, _ = local_losses(m, bits, m.log_prob_graph(bits), T, 0.0, quantum=False)
    delta = sr_direction(per_sample_scores(m, bits, m.trainable_variables), loc, eps, False, m.trainable_variables)
    out = step(seed, tf.constant(T, tf.float64), tf.constant(0.0, tf.float64))
    assert bool(out["finite"]) and float(out["grad_norm"]) > 0
    for v, b, d in zip(m.trainable_variables, before, delta):
        np.testing.assert_allclose(v.numpy(), b - lr * d.numpy(), atol=1e-9)


def test_sr_rejects_what_it_cannot_precondition():
    with pytest.raises(UsageError, match="optimizer sr cannot be combined"):
        AnnealConfig(L=3, optimizer="sr", symmetry="kernel")
    with pytest.raises(UsageError, match="optimizer sr cannot be combined"):
        AnnealConfig(L=3, mode="vqa", optimizer="sr", vqa_baseline_scale=0.25)
    with pytest.raises(UsageError, match="sr_shift"):
        AnnealConfig(L=3, optimizer="sr", sr_shift=0.0)
    with pytest.raises(UsageError, match="optimizer must be one of"):
        AnnealConfig(L=3, optimizer="lbfgs")


@pytest.mark.slow
def test_short_sr_anneal_reaches_the_ground_state(tmp_path):
    from nm_tf.annealing import anneal

    cfg = AnnealConfig(mode="vca", L=3, optimizer="sr", lr=0.2, warmup=100, annealing_steps=150, train_steps=2,
                       samples=50, final_samples=2000, seed=1, exact_points=0)
    s = anneal(cfg, tmp_path / "run")
    assert s["ground_state_in_final_sample"] and s["ground_state_fraction"] > 0.5


@pytest.mark.parametrize("cell, manual", [("vanilla", True), ("closing", True), ("gru", True), ("vanilla", False)])
def test_an_ensembles_scores_and_solves_are_each_members_own(cell, manual):
    """Stacked weights: member k's per-sample scores and minSR direction equal those of its own network (the
    hand-written pass with a member axis, or the autodiff pass with each member repeated per sample)."""
    from nm_tf.annealing.ensemble import stack_weights
    from nm_tf.annealing.sr import sr_solve, stacked_per_sample_scores

    members = [NewmanMooreRNN(L, hidden=4, cell=cell, seed=s, dtype="float64", jit_compile=False,
                              manual_backprop=manual) for s in (0, 1, 2)]
    stacked = stack_weights(members)
    rng = np.random.default_rng(5)
    bits = rng.integers(0, 2, size=(3, 6, L * L)).astype(np.int32)
    loc = rng.normal(size=(3, 6))
    got = stacked_per_sample_scores(members[0], tf.constant(bits), stacked).numpy()
    delta = sr_solve(tf.constant(got), tf.constant(loc), 0.02, True).numpy()
    for k, m in enumerate(members):
        order = [m.rnn_cell.weight_dict()[name] for name in stacked]     # the stacked layout's order
        own = per_sample_scores(m, tf.constant(bits[k]), order).numpy()
        np.testing.assert_allclose(got[k], own, atol=1e-12)
        want = sr_direction(tf.constant(own), tf.constant(loc[k]), 0.02, True, order)
        np.testing.assert_allclose(delta[k], np.concatenate([t.numpy().ravel() for t in want]), atol=1e-12)


def _system(seed, smax, B=20, P=60):
    """Scores ``o [B, P]`` whose centred, scaled form is ``q diag(s) v^T`` with singular values from 10^smax down
    to 0.1, local losses, and the exact minSR direction (VQA's c = 1/4, shift 0.01) known from that construction."""
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(np.column_stack([np.ones(B), rng.normal(size=(B, B - 1))]))[0][:, 1:]   # columns sum to 0
    v = np.linalg.qr(rng.normal(size=(P, B - 1)))[0]
    s = np.logspace(smax, -1, B - 1)
    loc = rng.normal(size=B)
    want = v @ (s / (0.25 * s * s + 0.01) * (q.T @ (loc - loc.mean()) / np.sqrt(B)))
    return np.sqrt(B) * q @ np.diag(s) @ v.T, loc, want


@pytest.mark.parametrize("jit", [False, True])
def test_a_system_cholesky_cannot_factor_is_solved_from_qr_factors_of_the_scores(jit):
    """Scores spanning 9 decades (the ELU hidden states of a VQA network near the uniform state grow until
    d log p / d out_kernel reaches 1e6; Table I VQA L = 5 with SR hit it at Gamma = 9): c x x^T + eps I is no
    longer positive definite in float64, its Cholesky factor is NaN, and the solve falls back to QR factors of x. In an
    ensemble only the member whose factor failed changes: the other keeps its Cholesky answer to the last bit."""
    from nm_tf.annealing.sr import sr_solve

    solve = tf.function(lambda o, loc: sr_solve(o, loc, 0.01, True), jit_compile=jit)
    bad_o, bad_loc, want = _system(1, smax=8)
    x = (bad_o - bad_o.mean(0)) / np.sqrt(len(bad_o))
    assert np.isnan(tf.linalg.cholesky(0.25 * x @ x.T + 0.01 * np.eye(len(x))).numpy()).any()   # the case at hand
    got = solve(tf.constant(bad_o), tf.constant(bad_loc)).numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())
    good_o, good_loc, good_want = _system(2, smax=3)
    alone = solve(tf.constant(good_o), tf.constant(good_loc)).numpy()
    np.testing.assert_allclose(alone, good_want, rtol=0, atol=1e-9 * np.abs(good_want).max())
    both = solve(tf.constant(np.stack([good_o, bad_o])), tf.constant(np.stack([good_loc, bad_loc]))).numpy()
    other_o, other_loc, _ = _system(3, smax=3)
    by_cholesky = solve(tf.constant(np.stack([good_o, other_o])), tf.constant(np.stack([good_loc, other_loc])))
    np.testing.assert_array_equal(both[0], by_cholesky[0].numpy())
    np.testing.assert_allclose(both[1], want, rtol=0, atol=1e-6 * np.abs(want).max())
    # The training step counts these solves (summary: sr_qr_solves): reported per system.
    reported = tf.function(lambda o, loc: sr_solve(o, loc, 0.01, True, report=True), jit_compile=jit)
    again, by_qr = reported(tf.constant(np.stack([good_o, bad_o])), tf.constant(np.stack([good_loc, bad_loc])))
    np.testing.assert_array_equal(again.numpy(), both)
    assert by_qr.numpy().tolist() == [False, True]


@pytest.mark.parametrize("B, P", [(20, 60), (60, 20)])
def test_the_qr_route_solves_systems_with_more_samples_than_parameters(B, P):
    """The QR fallback against the dense ``x^T (c x x^T + eps I)^-1 e``, also where the samples outnumber the
    parameters (a small network, or many samples per update: ``x^T``'s QR factor ``r`` is then ``P x B``, not
    square). Both branches of the solve are built in every compiled step, so a wrong shape there failed every SR
    run with B > P, whether or not Cholesky failed."""
    from nm_tf.annealing.sr import _solve_by_qr

    rng = np.random.default_rng(B)
    x = rng.normal(size=(B, P)) / np.sqrt(B)
    e = rng.normal(size=B) / np.sqrt(B)
    want = x.T @ np.linalg.solve(0.25 * x @ x.T + 0.01 * np.eye(B), e)
    got = _solve_by_qr(tf.constant(x), tf.constant(e), 0.25, 0.01).numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * np.abs(want).max())
    m = NewmanMooreRNN(2, hidden=2, seed=0, dtype="float64", jit_compile=False)      # 26 parameters
    step = make_train_step(m, tf.keras.optimizers.SGD(0.05), 40, jit_compile=False, sr_shift=0.01)
    out = step(tf.constant([0, 1], tf.int64), tf.constant(1.0, tf.float64), tf.constant(0.0, tf.float64))
    assert bool(out["finite"]) and float(out["sr_qr_solves"]) == 0.0
