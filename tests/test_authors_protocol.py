"""The authors' public code as options: raster-wrap ordering, their initialisation, the probability floor,
stale local losses in the mini-batches, the VQA baseline scale, and the ``authors`` preset."""

import argparse
import itertools
import json

import numpy as np
import pytest
import tensorflow as tf

from nm_tf.hamiltonian import energy
from nm_tf.models import NewmanMooreRNN, build_model


def all_bits(L):
    return np.array(list(itertools.product((0, 1), repeat=L * L)), dtype=np.int32)


AUTHORS_NET = dict(ordering="raster-wrap", init="authors", prob_floor=1e-8, dtype="float64")


# Default-suite budget (session 27): the other cases with `-m slow`.
@pytest.mark.parametrize("L", [3, pytest.param(4, marks=pytest.mark.slow)])
def test_raster_wrap_probabilities_sum_to_one_in_process_and_exported(L, tmp_path):
    from nm_tf.export import export_model

    model = NewmanMooreRNN(L, hidden=5, seed=1, jit_compile=False, **AUTHORS_NET)
    states = all_bits(L)
    lp = model.log_prob(states).numpy()
    assert np.exp(lp).sum() == pytest.approx(1.0, abs=1e-12)
    plain = NewmanMooreRNN(L, hidden=5, seed=1, jit_compile=False, ordering="raster", dtype="float64",
                           init="authors")
    plain.set_weights(model.get_weights())
    assert np.abs(plain.log_prob(states[:64]).numpy() - lp[:64]).max() > 1e-3   # the wrap input matters
    export_model(model, tmp_path / "1", xla=False, warmup=False)
    served = tf.saved_model.load(str(tmp_path / "1")).signatures["log_prob"]
    got = served(spins=tf.constant(states, tf.int8))["log_prob"].numpy()
    np.testing.assert_allclose(got, lp, atol=2e-5)                # the signature returns float32
    assert np.exp(got.astype(np.float64)).sum() == pytest.approx(1.0, abs=1e-4)
    meta = json.loads((tmp_path / "1" / "assets.extra" / "nm_tf.json").read_text())
    assert meta["ordering"] == "raster-wrap" and meta["prob_floor"] == 1e-8


@pytest.mark.parametrize("net", [dict(AUTHORS_NET), dict(AUTHORS_NET, prob_floor=0.02),
                                 dict(ordering="raster-wrap", dtype="float64", cell="gru")])
def test_raster_wrap_sampling_backward_pass_and_flips(net):
    """Sampled log p = teacher-forced log p; the hand-written gradient = autodiff's (sampling and teacher
    forcing, also with a floor large enough to matter); suffix flips = full passes."""
    L, B = 4, 16
    manual, auto = (build_model({"L": L, "hidden": 6, "cell": "vanilla", "seed": 2, **net}, jit_compile=False,
                                manual_backprop=m) for m in (True, False))
    auto.set_weights(manual.get_weights())
    upstream = tf.constant(np.random.default_rng(0).normal(size=B))
    u = tf.random.stateless_uniform([L, L, B], seed=[1, 2], dtype=tf.float64)
    grads = []
    for model in (manual, auto):
        with tf.GradientTape(persistent=True) as tape:
            bits, lp, hs, sb = model.scan(B, uniforms=u, keep=True)
            sampled = tf.reduce_sum(upstream * lp)
            forced = tf.reduce_sum(upstream * model.log_prob_graph(bits))
        grads.append((tape.gradient(sampled, model.trainable_variables),
                      tape.gradient(forced, model.trainable_variables)))
        np.testing.assert_allclose(lp.numpy(), model.log_prob(bits.numpy()).numpy(), atol=1e-12)
        flips = model.single_flip_log_probs(bits, kept=(hs, sb)).numpy()
        eye = np.eye(L * L, dtype=np.int32)
        expect = np.stack([model.log_prob(bits.numpy() ^ eye[i]).numpy() for i in range(L * L)], axis=1)
        np.testing.assert_allclose(flips, expect, atol=1e-12)
        np.testing.assert_allclose(model.single_flip_log_probs(bits).numpy(), expect, atol=1e-12)
    (ms, mt), (a_s, _) = grads
    for m_s, m_t, a in zip(ms, mt, a_s):
        assert np.abs(a.numpy()).max() > 0
        np.testing.assert_allclose(m_s.numpy(), a.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(m_t.numpy(), a.numpy(), rtol=1e-10, atol=1e-12)


def test_authors_init_draws_two_kernels_and_a_bias():
    d = 40
    cell = NewmanMooreRNN(3, hidden=d, seed=4, init="authors").rnn_cell
    kernel, bias = cell.kernel.numpy(), cell.bias.numpy()
    limit_half, limit_bias = np.sqrt(6 / (2 * d + 2)), np.sqrt(3 / d)   # Glorot of [d + 2, d] and of [d]
    assert np.abs(kernel).max() <= limit_half and np.abs(kernel).max() > 0.95 * limit_half
    assert np.abs(bias).max() <= limit_bias and np.abs(bias).max() > 0.8 * limit_bias
    assert not np.allclose(kernel[:d + 2], kernel[d + 2:])
    ours = NewmanMooreRNN(3, hidden=d, seed=4).rnn_cell
    assert np.abs(ours.kernel.numpy()).max() <= np.sqrt(6 / (3 * d + 4)) and not ours.bias.numpy().any()
    np.testing.assert_array_equal(NewmanMooreRNN(3, hidden=d, seed=4, init="authors").rnn_cell.kernel.numpy(),
                                  kernel)


# Default-suite budget (session 27): the other cases with `-m slow`.
@pytest.mark.parametrize("quantum, scale", [pytest.param(False, 1.0, marks=pytest.mark.slow), (True, 0.25)])
def test_stale_minibatch_step_equals_a_hand_computed_reference(quantum, scale):
    """Stale local losses: computed once at the starting weights for all samples, then one SGD update per
    mini-batch on the score of that mini-batch at the current weights, baseline scale x its mean."""
    from nm_tf.annealing.losses import make_train_step

    L, n_s, n_b, lr, T, gamma = 3, 6, 2, 0.0625, 0.7, 0.9    # lr exact in float32 (Keras keeps it so)
    net = dict(L=L, hidden=4, cell="vanilla", seed=5, **AUTHORS_NET)
    model, ref = build_model(net, jit_compile=False), build_model(net, jit_compile=False, manual_backprop=False)
    ref.set_weights(model.get_weights())
    seed = tf.constant([3, 11], tf.int64)
    step = make_train_step(model, tf.keras.optimizers.SGD(lr), n_s, quantum=quantum, jit_compile=False,
                           minibatch=n_b, local_loss="stale", baseline_scale=scale)
    out = step(seed, tf.constant(T, tf.float64), tf.constant(gamma, tf.float64))

    bits, _ = ref.sample(n_s, seed=[3, 11])
    bits = bits.numpy()
    lp = ref.log_prob(bits).numpy()
    loc = energy(bits, L) + T * lp
    if quantum:
        flips = np.stack([ref.log_prob(bits ^ np.eye(L * L, dtype=np.int32)[i]).numpy() for i in range(L * L)], 1)
        loc = loc - gamma * np.exp(0.5 * (flips - lp[:, None])).sum(1)
    for k in range(n_s // n_b):
        part, loc_k = bits[k * n_b:(k + 1) * n_b], loc[k * n_b:(k + 1) * n_b]
        with tf.GradientTape() as tape:
            surrogate = tf.reduce_mean((loc_k - scale * loc_k.mean()) * ref.log_prob_graph(tf.constant(part)))
        for v, g in zip(ref.trainable_variables, tape.gradient(surrogate, ref.trainable_variables)):
            v.assign_sub(lr * g)
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert float(out["loss"]) == pytest.approx(loc.mean() / L ** 2, rel=1e-10)
    fresh = build_model(net, jit_compile=False)       # fresh losses take a different step
    make_train_step(fresh, tf.keras.optimizers.SGD(lr), n_s, quantum=quantum, jit_compile=False,
                    minibatch=n_b, baseline_scale=scale)(seed, tf.constant(T, tf.float64),
                                                         tf.constant(gamma, tf.float64))
    assert max(np.abs(a - b).max() for a, b in zip(fresh.get_weights(), model.get_weights())) > 1e-8


def _anneal_args(argv):
    from nm_tf.cli import anneal as cli_anneal

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli_anneal.add_parser(sub)
    return cli_anneal, parser.parse_args(["anneal", "--workdir", "x"] + argv)


def test_authors_preset_resolves_and_flags_override(tmp_path):
    from nm_tf.annealing.config import PRESETS, AnnealConfig
    from nm_tf.errors import UsageError

    cli, args = _anneal_args(["--mode", "vqa", "--L", "3", "--preset", "authors"])
    cfg = cli.config_from_args(args)
    expect = {"ordering": "raster-wrap", "lr": 1e-3, "minibatch": 10, "local_loss": "stale", "init": "authors",
              "dtype": "float64", "prob_floor": 1e-8, "vqa_baseline_scale": 0.25, "preset": "authors",
              "samples": 100, "hidden": 40, "warmup": 1000, "annealing_steps": 10000, "train_steps": 5,
              "gamma_start": 10.0}
    assert {k: getattr(cfg, k) for k in expect} == expect
    cli, args = _anneal_args(["--L", "3", "--preset", "authors", "--lr", "1e-4", "--ordering", "zigzag"])
    cfg = cli.config_from_args(args)
    assert (cfg.lr, cfg.ordering, cfg.local_loss) == (1e-4, "zigzag", "stale")
    # config.json's resolved values give the same config back, whatever the preset holds later
    again = AnnealConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and set(PRESETS["authors"]) < set(cfg.to_dict())
    with pytest.raises(UsageError, match="preset must be one of"):
        AnnealConfig.from_dict({"preset": "nobody"})
    with pytest.raises(UsageError, match="stale .* minibatch"):
        AnnealConfig(local_loss="stale")
    with pytest.raises(UsageError, match="prob_floor"):
        AnnealConfig(prob_floor=0.5)


def test_config_choices_are_the_owners():
    from nm_tf.annealing import config
    from nm_tf.lattice import ORDERINGS
    from nm_tf.models import cell, options

    assert config.FIELD_CHOICES["ordering"] == ORDERINGS
    assert config.CELLS is cell.CELL_TYPES and config.INITS is cell.INITS     # one owner: nm_tf.models.options
    assert config.MAX_PROB_FLOOR is options.MAX_PROB_FLOOR and config.CELLS is options.CELL_TYPES
    from nm_tf.landscape import directions

    assert directions.NORMALIZATIONS is config.NORMALIZATIONS
