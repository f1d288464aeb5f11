"""K networks in one compiled step: member k follows the single run of seed k."""

import numpy as np
import pytest
import tensorflow as tf

from nm_tf.annealing.ensemble import EnsembleStep, stack_weights
from nm_tf.annealing.losses import StepSpec, make_train_step
from nm_tf.models import NewmanMooreRNN

L, SEEDS, STEPS = 3, (0, 1, 2), 50


def _schedule(s):
    return (1.5 * (1 - s / STEPS), 0.0)


# Default-suite budget (session 27): the other cases with `-m slow`.
@pytest.mark.parametrize("quantum,minibatch", [(False, None), pytest.param(False, 10, marks=pytest.mark.slow),
                                               pytest.param(True, 10, marks=pytest.mark.slow)])
def test_each_member_follows_the_single_run_of_its_seed(quantum, minibatch):
    spec = StepSpec(num_samples=20, quantum=quantum, minibatch=minibatch)
    build = lambda seed: NewmanMooreRNN(L, hidden=8, seed=seed, jit_compile=False)  # noqa: E731
    singles = []
    for seed in SEEDS:
        m = build(seed)
        step = make_train_step(m, tf.keras.optimizers.Adam(3e-3), spec, jit_compile=False)
        losses = []
        for s in range(STEPS):
            T, g = _schedule(s) if not quantum else (0.0, 1.5 * (1 - s / STEPS))
            losses.append(float(step(tf.constant([seed, s], tf.int64), tf.constant(T), tf.constant(g))["loss"]))
        singles.append((losses, m))
    ens = EnsembleStep(build(0), SEEDS, spec, stack_weights([build(s) for s in SEEDS]), 3e-3, jit_compile=False)
    got = []
    for s in range(STEPS):
        T, g = _schedule(s) if not quantum else (0.0, 1.5 * (1 - s / STEPS))
        out = ens(s, T, g)
        assert out["finite"].all() and out["loss"].shape == (len(SEEDS),)
        got.append(out["loss"])
    got = np.array(got).T                                            # [K, steps]
    for k, (losses, m) in enumerate(singles):
        np.testing.assert_allclose(got[k], losses, rtol=1e-5, atol=1e-6)
        for name, v in ens.member_weights(k).items():                  # and the weights they end with
            np.testing.assert_allclose(v.numpy(), m.rnn_cell.weight_dict()[name].numpy(), rtol=1e-4, atol=1e-5)


def test_a_frozen_member_keeps_its_weights_and_moments_while_the_others_train():
    """``active[k] = False`` (a member that diverged or was paused) leaves member k exactly as it was, Adam's
    moments included, while the others train: a zero gradient alone would let Adam's momentum move it."""
    spec = StepSpec(num_samples=20)
    build = lambda seed: NewmanMooreRNN(L, hidden=8, seed=seed, jit_compile=False)  # noqa: E731
    ens = EnsembleStep(build(0), SEEDS, spec, stack_weights([build(s) for s in SEEDS]), 3e-2, jit_compile=False)
    assert ens(0, 1.0, 0.0)["finite"].all()                      # every member now carries momentum
    ens.active[0].assign(False)
    state = lambda: [np.array(v) for v in list(ens.variables) + list(ens.optimizer.variables)]  # noqa: E731
    before = state()
    ens(1, 1.0, 0.0)
    for a, b in zip(before, state()):
        if a.ndim and a.shape[0] == len(SEEDS):
            np.testing.assert_array_equal(a[0], b[0])
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(before, state()) if a.ndim)


@pytest.mark.parametrize("cell,ordering", [("vanilla", "zigzag"), ("vanilla", "raster-wrap"), ("triangle", "zigzag"),
                                           ("closing", "zigzag")])
def test_hand_written_backward_pass_over_stacked_weights_equals_autodiff(cell, ordering):
    members = [NewmanMooreRNN(4, hidden=5, seed=s, cell=cell, ordering=ordering, dtype="float64", jit_compile=False)
               for s in (0, 1, 2)]
    m = members[0]
    stacked = {k: tf.Variable(v) for k, v in stack_weights(members).items()}
    upstream = tf.constant(np.random.default_rng(0).normal(size=(3, 7)))
    from nm_tf.models.rnn import uniforms_from_seed

    u = tf.stack([uniforms_from_seed([4, 4, 7], [s, 3], tf.float64) for s in range(3)], axis=2)
    grads = []
    for hand in (True, False):
        with tf.GradientTape() as tape:
            bits, lp = m.scan(7, uniforms=u, weights=dict(stacked), stacked_backprop=hand)
            total = tf.reduce_sum(upstream * lp)
        grads.append(tape.gradient(total, list(stacked.values())))
    for a, b in zip(*grads):
        assert np.abs(b.numpy()).max() > 0
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fields", [
    dict(quantum=True, flip_samples=4),
    pytest.param(dict(quantum=True, minibatch=10, local_loss="stale", baseline_scale=0.25, flip_samples=3),
                 marks=pytest.mark.slow),
    pytest.param(dict(quantum=False, minibatch=10, local_loss="stale", clip_norm=0.02, penalty=0.1),
                 marks=pytest.mark.slow),
], ids=["vqa-sampled-flips", "vqa-authors-stale", "vca-stale-clip-penalty"])
def test_members_follow_single_runs_with_the_step_options(fields):
    spec = StepSpec(num_samples=20, **fields)
    build = lambda seed: NewmanMooreRNN(L, hidden=6, seed=seed, jit_compile=False)  # noqa: E731
    steps, seeds = 12, (3, 4)
    sched = lambda s: (0.5, 1.0 - s / steps) if fields["quantum"] else (1.0 - s / steps, 0.0)  # noqa: E731
    singles = []
    for seed in seeds:
        step = make_train_step(build(seed), tf.keras.optimizers.Adam(1e-2), spec, jit_compile=False)
        singles.append([float(step(tf.constant([seed, s], tf.int64), *map(tf.constant, sched(s)))["loss"])
                        for s in range(steps)])
    ens = EnsembleStep(build(0), seeds, spec, stack_weights([build(s) for s in seeds]), 1e-2, jit_compile=False)
    got = np.array([ens(s, *sched(s))["loss"] for s in range(steps)]).T
    np.testing.assert_allclose(got, singles, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("quantum,minibatch", [(False, None), pytest.param(True, 10, marks=pytest.mark.slow)])
def test_each_member_follows_the_single_sr_run_of_its_seed(quantum, minibatch):
    """Stochastic reconfiguration in an ensemble: each member's own minSR solve and SGD step, as the single run
    of its seed with ``--optimizer sr`` takes them."""
    spec = StepSpec(num_samples=20, quantum=quantum, minibatch=minibatch, sr_shift=0.01)
    build = lambda seed: NewmanMooreRNN(L, hidden=6, seed=seed, jit_compile=False)  # noqa: E731
    steps = 15
    sched = lambda s: (0.0, 1.5 * (1 - s / steps)) if quantum else (1.5 * (1 - s / steps), 0.0)  # noqa: E731
    singles = []
    for seed in SEEDS:
        m = build(seed)
        step = make_train_step(m, tf.keras.optimizers.SGD(0.05), spec, jit_compile=False)
        singles.append(([float(step(tf.constant([seed, s], tf.int64), *map(tf.constant, sched(s)))["loss"])
                         for s in range(steps)], m))
    ens = EnsembleStep(build(0), SEEDS, spec, stack_weights([build(s) for s in SEEDS]), 0.05, jit_compile=False)
    assert isinstance(ens.optimizer, tf.keras.optimizers.SGD)
    got = np.array([ens(s, *sched(s))["loss"] for s in range(steps)]).T
    for k, (losses, m) in enumerate(singles):
        np.testing.assert_allclose(got[k], losses, rtol=1e-5, atol=1e-6)
        for name, v in ens.member_weights(k).items():
            np.testing.assert_allclose(v.numpy(), m.rnn_cell.weight_dict()[name].numpy(), rtol=1e-4, atol=1e-5)
