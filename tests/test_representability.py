"""Representability: the row-by-row chain rule, the exact ground-state metrics and the maximum-likelihood fit."""

import itertools
import math

import numpy as np
import pytest

from nm_tf.errors import UsageError
from nm_tf.exact import ground_states
from nm_tf.hamiltonian import energy, ground_state_energy
from nm_tf.models import NewmanMooreRNN
from nm_tf.representability import FitConfig, exact_ground_state_metrics, fit_uniform_ground_states

L = 3
ALL = np.array(list(itertools.product((0, 1), repeat=L * L)), dtype=np.int32)


@pytest.mark.parametrize("cell,ordering", [("vanilla", "zigzag"), ("vanilla", "raster-wrap"),
                                           ("triangle", "zigzag"), ("gru", "raster")])
def test_row_log_probs_are_the_chain_rule_by_rows(cell, ordering):
    m = NewmanMooreRNN(L, hidden=5, cell=cell, ordering=ordering, seed=3, dtype="float64", jit_compile=False)
    rows = m.row_log_probs(ALL).numpy()
    assert rows.shape == (len(ALL), L)
    np.testing.assert_allclose(rows.sum(1), m.log_prob(ALL).numpy(), atol=1e-12)
    # row 0's term is the exact marginal of the first row; rows 0-1 together the marginal of the first two rows
    p = np.exp(m.log_prob(ALL).numpy())
    for upto in (1, 2):
        keys = [tuple(b[:upto * L]) for b in ALL]
        marginal = {}
        for k, v in zip(keys, p):
            marginal[k] = marginal.get(k, 0.0) + v
        np.testing.assert_allclose(np.exp(rows[:, :upto].sum(1)), [marginal[k] for k in keys], rtol=1e-10)


def test_exact_metrics_match_enumeration():
    m = NewmanMooreRNN(L, hidden=5, seed=4, dtype="float64", jit_compile=False)
    r = exact_ground_state_metrics(m)
    log_p = m.log_prob(ALL).numpy()
    ground = energy(ALL, L) <= ground_state_energy(L) + 0.25
    gs_log_p = log_p[ground]
    D = int(ground.sum())
    assert r["degeneracy"] == D == len(ground_states(L))
    assert r["kl_to_uniform"] == pytest.approx(-math.log(D) - gs_log_p.mean(), abs=1e-12)
    assert sum(r["row_kl"]) == pytest.approx(r["kl_to_uniform"], abs=1e-12)
    assert r["ground_state_mass"] == pytest.approx(np.exp(gs_log_p).sum(), rel=1e-12)
    q = np.exp(gs_log_p) / np.exp(gs_log_p).sum()
    assert r["effective_ground_states"] == pytest.approx(np.exp(-(q * np.log(q)).sum()), rel=1e-12)
    assert r["min_ratio"] == pytest.approx(q.min() * D, rel=1e-12)


def test_fit_drives_the_kl_down():
    model, history, r = fit_uniform_ground_states(FitConfig(L=3, hidden=8, max_steps=300, log_every=50))
    assert r["initial_kl"] > 3.0 and r["kl_to_uniform"] < 0.5 * r["initial_kl"] and r["kl_to_uniform"] < 1.0
    assert [h[0] for h in history] == [50, 100, 150, 200, 250, 300] and r["steps"] == 300
    assert r["stopped"] == "max_steps"
    assert r["kl_to_uniform"] == pytest.approx(exact_ground_state_metrics(model)["kl_to_uniform"], abs=1e-6)


@pytest.mark.parametrize("field,value,match", [("max_steps", 0, "max_steps"), ("lr", -1.0, "lr"),
                                               ("L", 24, "ground states")])
def test_fit_config_rejects_bad_values(field, value, match):
    with pytest.raises(UsageError, match=match):
        FitConfig(**{"L": 3, field: value}).check()


def test_plateau_rule_halves_lr_after_a_spike_instead_of_stopping():
    """A fit that spikes and then descends slowly above its earlier best is still learning: the rule halves the
    learning rate and goes on (the rule it replaces, 'no 1 % gain on the best for `patience` steps', stopped it)."""
    from nm_tf.representability import PlateauRule

    rule = PlateauRule(patience=4, max_reductions=1)
    kls = [5.0, 2.0, 1.0, 0.09,          # block 1: improves on nothing-before
           0.9, 0.2, 0.15, 0.12,         # block 2: a spike, then descent above 0.09 -> halve lr
           0.10, 0.08, 0.06, 0.05,       # block 3: below 0.99 * 0.09 -> go on
           0.0499, 0.0498, 0.0497, 0.0496]   # block 4: < 1 % gain after one halving -> stop
    actions = [rule.update(k) for k in kls]
    assert actions[3] == "continue" and actions[7] == "reduce" and actions[11] == "continue"
    assert actions[15] == "stop" and rule.reductions == 1
    assert all(a == "continue" for k, a in enumerate(actions) if (k + 1) % 4)


def test_fit_halves_its_learning_rate_on_plateaus_and_then_stops():
    # lr so small that nothing improves: every block after the first is a plateau
    model, history, r = fit_uniform_ground_states(FitConfig(L=3, hidden=4, lr=1e-12, patience=5, lr_reductions=2,
                                                            max_steps=1000, log_every=5))
    assert r["stopped"] == "plateau" and r["steps"] == 20 and r["lr_reductions"] == 2
    assert r["final_lr"] == pytest.approx(0.25e-12)
    assert [h[3] for h in history] == pytest.approx([1e-12, 1e-12, 0.5e-12, 0.25e-12])
