"""VQA's transverse-field term from K sampled flips: unbiased for the local energy and the gradient; K = N exact."""

import numpy as np
import pytest
import tensorflow as tf

from nm_tf.annealing import AnnealConfig
from nm_tf.annealing.losses import local_losses, make_train_step, sampled_flip_log_probs
from nm_tf.models import NewmanMooreRNN

L, N = 3, 9
GAMMA = 1.3


@pytest.fixture(scope="module")
def model():
    return NewmanMooreRNN(L, hidden=5, seed=7, dtype="float64", jit_compile=False)


def _bits(b, seed=0):
    return tf.constant(np.random.default_rng(seed).integers(0, 2, size=(b, N)), tf.int32)


def test_sampled_sites_are_distinct_and_their_log_probs_right(model):
    bits = _bits(6)
    sites, lp = sampled_flip_log_probs(model, bits, 4, tf.constant([1, 2], tf.int64))
    sites = sites.numpy()
    assert all(len(set(row)) == 4 for row in sites)
    full = model.single_flip_log_probs(bits).numpy()                     # every flip, by suffix passes
    np.testing.assert_allclose(lp.numpy(), np.take_along_axis(full, sites, axis=1), atol=1e-12)


def test_all_n_flips_reproduce_the_exact_local_energy(model):
    bits = _bits(8)
    lp = model.log_prob_graph(bits)
    exact, _ = local_losses(model, bits, lp, 0.0, GAMMA, quantum=True)
    every, _ = local_losses(model, bits, lp, 0.0, GAMMA, quantum=True, flip_samples=N,
                            flip_seed=tf.constant([3, 4], tf.int64))
    np.testing.assert_allclose(every.numpy(), exact.numpy(), atol=1e-12)


# Default-suite budget (session 27): the other cases with `-m slow`.
@pytest.mark.parametrize("k", [pytest.param(1, marks=pytest.mark.slow), 3])
def test_the_estimate_and_the_gradient_are_unbiased(model, k):
    """The mean over many independent site draws equals the exact local energy, and the surrogate's gradient
    (linear in the local energies) the exact one, within 3 standard errors."""
    bits = _bits(5, seed=1)
    lp = model.log_prob_graph(bits)
    exact, _ = local_losses(model, bits, lp, 0.0, GAMMA, quantum=True)
    draws = 400
    many = tf.tile(bits, [draws, 1])                       # every row draws its own subset
    est, _ = local_losses(model, many, tf.tile(lp, [draws]), 0.0, GAMMA, quantum=True, flip_samples=k,
                          flip_seed=tf.constant([5, 6], tf.int64))
    est = est.numpy().reshape(draws, -1)
    sem = est.std(axis=0, ddof=1) / np.sqrt(draws)
    assert np.all(np.abs(est.mean(0) - exact.numpy()) < 3 * sem + 1e-12)
    # the gradient of mean[(L_loc - mean L_loc) log p] over the same five samples, per draw
    variables = model.trainable_variables

    def grad(loc):
        with tf.GradientTape() as tape:
            score = model.log_prob_graph(bits)
            surrogate = tf.reduce_mean((loc - tf.reduce_mean(loc)) * score)
        return np.concatenate([g.numpy().ravel() for g in tape.gradient(surrogate, variables)])

    want = grad(exact)
    # linear in loc: the mean over draws of the gradients is the gradient at the mean local energies
    got = np.array([grad(tf.constant(row)) for row in est[:60]])
    sem_g = got.std(axis=0, ddof=1) / np.sqrt(len(got))
    assert np.all(np.abs(got.mean(0) - grad(tf.constant(est[:60].mean(0)))) < 1e-10)
    assert np.mean(np.abs(got.mean(0) - want) < 3 * sem_g + 1e-12) > 0.95


def test_training_step_with_sampled_flips_and_config_checks():
    m = NewmanMooreRNN(L, hidden=5, seed=2, jit_compile=False)
    step = make_train_step(m, tf.keras.optimizers.Adam(1e-3), 20, quantum=True, flip_samples=3, minibatch=10,
                           jit_compile=False)
    out = step(tf.constant([0, 1], tf.int64), tf.constant(0.0), tf.constant(GAMMA))
    assert bool(out["finite"]) and np.isfinite(float(out["loss"]))
    with pytest.raises(Exception, match="flip_samples must be an integer in 0..N = 9"):
        AnnealConfig(mode="vqa", L=3, flip_samples=10)
    with pytest.raises(Exception, match="needs --mode vqa"):
        AnnealConfig(mode="vca", L=3, flip_samples=2)
