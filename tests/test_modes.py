"""Mode-collapse analysis, the simulated-annealing baseline and the finite-temperature endpoint."""

import json
import math

import numpy as np
import pytest

from nm_tf.annealing.config import AnnealConfig
from nm_tf.annealing.driver import anneal
from nm_tf.annealing.schedule import temperature_and_field
from nm_tf.baselines import SAConfig, simulated_annealing
from nm_tf.cli import main
from nm_tf.exact import ground_states, thermodynamics
from nm_tf.hamiltonian import energy
from nm_tf.modes import analyse, pca


def test_analysis_against_hand_counts():
    g = ground_states(3)                                   # trivial first, then three at distance 6
    up = np.zeros((20, 9), np.uint8)                      # all up: every triangle violated, E = +N/2
    s = np.concatenate([np.repeat(g[:1], 50, 0), np.repeat(g[2:3], 30, 0), up])
    r = analyse(s, 3)
    assert r["n_samples"] == 100 and r["ground_state_fraction"] == pytest.approx(0.8)
    assert r["distinct_ground_states"] == 2 and r["degeneracy"] == 4 and r["coverage"] == 0.5
    assert r["ground_state_counts"] == [50, 0, 30, 0] and r["ground_state_hamming"] == [0, 6, 6, 6]
    p = np.array([50, 30]) / 80
    assert r["kl_to_uniform"] == pytest.approx(math.log(4) + np.sum(p * np.log(p)))
    assert r["hamming_histogram"][0] == 50 and r["hamming_histogram"][6] == 30 and r["hamming_histogram"][9] == 20
    assert r["residual_energy_per_spin"] == pytest.approx(0.2)
    # Uniform over all ground states: KL = 0, coverage 1; spins encoding gives the same.
    u = analyse(1 - 2 * np.repeat(g, 5, 0).astype(int), 3, encoding="spins")
    assert u["kl_to_uniform"] == pytest.approx(0.0, abs=1e-12) and u["coverage"] == 1.0
    assert analyse(up, 3)["kl_to_uniform"] is None
    # Every key is present without ground-state samples (callers index them): None, not missing.
    assert analyse(up, 3)["uniformity_p_value"] is None and analyse(up, 3)["effective_ground_states"] is None


def test_analysis_large_lattice_without_listing():
    r = analyse(np.ones((3, 36), np.uint8), 6)             # L=6: 16 ground states, listed
    assert r["ground_state_counts"][0] == 3
    big = analyse(np.ones((2, 15 * 15), np.uint8), 15)     # L=15 has 2^14 ground states: not listed
    assert big["degeneracy"] == 2 ** 14 and "ground_state_counts" not in big
    assert big["distinct_ground_states"] == 1


@pytest.mark.parametrize("bad,message", [
    (np.full((2, 9), 2), "values"), (np.ones((2, 8)), "shape"), (np.ones((0, 9)), "no samples"),
])
def test_analysis_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        analyse(bad, 3)


def test_pca_separates_ground_states():
    g = ground_states(3)
    coords, ratio = pca(np.repeat(g, [40, 20, 20, 20], axis=0), 3)
    assert coords.shape == (100, 2) and ratio[0] >= ratio[1] > 0 and ratio.sum() <= 1.0 + 1e-12
    # Rows of one configuration share coordinates; different ground states are apart.
    assert np.allclose(coords[:40], coords[0]) and np.linalg.norm(coords[0] - coords[40]) > 1


def test_sa_bookkeeping_and_equilibrium_energy():
    # Constant temperature: the chains equilibrate to the exact internal energy U(T)/N.
    T = 1.5
    r = simulated_annealing(SAConfig(L=3, chains=4000, sweeps=60, T0=T, T_final=T, seed=2), record_every=20)
    exact = thermodynamics(3, T)["energy"]
    stderr = r["energy"].std() / 9 / math.sqrt(4000)
    assert abs(r["energy"].mean() / 9 - exact) < 5 * stderr
    assert r["trace"][-1][2] == pytest.approx(r["energy"].mean() / 9)   # tracked parities = recomputed
    np.testing.assert_array_equal(r["energy"], energy(r["bits"], 3))


def test_sa_sweeps_are_metropolis_on_the_full_energy():
    """The vectorised sweep (parity rows, acceptance looked up by level) makes the chain of a plain
    per-chain Metropolis loop that evaluates the whole energy for every proposal, on the same draws."""
    cfg = SAConfig(L=4, chains=6, sweeps=25, warmup=3, T0=4.0, T_final=0.2, J=0.8, seed=5)
    rng = np.random.default_rng([cfg.seed, 0x5A])     # the draws, in the module's order
    n = cfg.L ** 2
    bits = rng.integers(0, 2, size=(cfg.chains, n), dtype=np.uint8)
    for sweep in range(cfg.warmup + cfg.sweeps):
        T, order, u = cfg.temperature(sweep), rng.permutation(n), rng.random((n, cfg.chains))
        for k, i in enumerate(order):
            for c in range(cfg.chains):
                trial = bits[c].copy()
                trial[i] ^= 1
                d_e = energy(trial[None], cfg.L, cfg.J)[0] - energy(bits[c][None], cfg.L, cfg.J)[0]
                if (d_e <= 0) if T == 0 else u[k, c] < math.exp(-max(d_e, 0.0) / T):
                    bits[c] = trial
    np.testing.assert_array_equal(simulated_annealing(cfg)["bits"], bits)


def test_sa_anneal_reaches_ground_states_and_is_seeded():
    cfg = SAConfig(L=3, chains=200, sweeps=300, T0=5.0, seed=1)
    a, b = simulated_annealing(cfg), simulated_annealing(cfg)
    np.testing.assert_array_equal(a["bits"], b["bits"])
    assert a["ground_state_hit_rate"] > 0.5 and a["distinct_ground_states"] == 4
    assert a["energy_evaluations"] == 200 * 300
    with pytest.raises(ValueError, match="T_final"):
        SAConfig(T0=1.0, T_final=2.0)
    with pytest.raises(ValueError, match="chains"):
        SAConfig(chains=0)


def test_finite_temperature_endpoint_schedule():
    cfg = AnnealConfig(L=3, T0=2.0, T_final=0.25, warmup=4, annealing_steps=10, train_steps=1)
    assert temperature_and_field(cfg, 0) == (2.0, 0.0)
    assert temperature_and_field(cfg, cfg.total_steps - 1)[0] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="T_final"):
        AnnealConfig(L=3, T0=1.0, T_final=2.0)


def test_modes_cli(tmp_path, capsys):
    from nm_tf.annealing.driver import anneal

    cfg = AnnealConfig(L=3, hidden=8, T0=1.0, warmup=20, annealing_steps=20, train_steps=2, samples=50,
                       lr=0.01, final_samples=2000, final_chunk=1000)
    anneal(cfg, tmp_path / "r")
    capsys.readouterr()
    assert main(["modes", "--workdir", str(tmp_path / "r"), "--samples", "1500", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out)[:7] == ["n_samples", "ground_state_fraction", "distinct_ground_states", "degeneracy",
                             "coverage", "kl_to_uniform", "hamming_histogram"]
    assert 1 <= out["effective_ground_states"] <= 4 and 0 <= out["uniformity_p_value"] <= 1
    assert 0 < out["min_ground_state_probability"] < 1 and out["symmetry"] == "none"
    assert out["n_samples"] == 1500 and out["degeneracy"] == 4 and sum(out["hamming_histogram"]) == 1500
    # The stored final sample was used: the same statistics as analysing it directly.
    stored = np.load(tmp_path / "r" / "samples_final.npz")
    bits = np.unpackbits(stored["bits"], axis=1, count=9)[:1500]
    assert out["ground_state_fraction"] == pytest.approx(analyse(bits, 3)["ground_state_fraction"])
    assert (tmp_path / "r" / "modes_pca.png").exists() and (tmp_path / "r" / "modes_ground_states.png").exists()
    # A fresh seeded sample from the model is reproducible.
    assert main(["modes", "--workdir", str(tmp_path / "r"), "--samples", "300", "--seed", "4", "--json"]) == 0
    a = capsys.readouterr().out
    assert main(["modes", "--workdir", str(tmp_path / "r"), "--samples", "300", "--seed", "4", "--json"]) == 0
    assert capsys.readouterr().out == a
    for argv, message in [(["--samples", "0"], "--samples"), (["--seed", "-1"], "--seed")]:
        assert main(["modes", "--workdir", str(tmp_path / "r"), *argv]) == 2
        assert message in capsys.readouterr().err
    assert main(["modes", "--target", "127.0.0.1:1"]) == 2
    assert "--model" in capsys.readouterr().err


def test_effective_ground_states_and_uniformity_by_hand():
    from scipy.stats import chi2

    from nm_tf.exact import ground_states
    from nm_tf.modes.analysis import analyse

    gs = ground_states(3)
    bits = np.concatenate([np.repeat(gs[:1], 30, 0), np.repeat(gs[1:2], 10, 0)])       # 3:1 on two of four
    s = analyse(bits, 3, log_prob=lambda b: np.log(np.full(len(b), 0.25)))
    p = np.array([0.75, 0.25])
    assert s["effective_ground_states"] == pytest.approx(float(np.exp(-(p * np.log(p)).sum())))
    expected = ((30 - 10) ** 2 + 2 * 10 ** 2 + (10 - 10) ** 2) / 10                    # chi^2 against 10 each
    assert s["uniformity_p_value"] == pytest.approx(float(chi2.sf(expected, 3)))
    assert s["min_ground_state_probability"] == pytest.approx(0.25)


def test_modes_symmetrised_from_a_run(tmp_path, capsys):
    anneal(AnnealConfig(L=3, T0=1.0, warmup=20, annealing_steps=20, train_steps=1, hidden=6, final_samples=200,
                        jit=False), tmp_path / "r")
    capsys.readouterr()
    assert main(["modes", "--workdir", str(tmp_path / "r"), "--samples", "4000", "--symmetry", "kernel",
                 "--json", "--out", str(tmp_path / "m")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["symmetry"] == "kernel"
    if out["distinct_ground_states"]:
        assert out["distinct_ground_states"] == 4                 # an orbit: any ground state brings all four
