"""Parallel tempering (tfp.mcmc.ReplicaExchangeMC with a single-spin-flip sweep kernel)."""

import math

import numpy as np
import pytest

from nm_tf.baselines import PTConfig, parallel_tempering
from nm_tf.errors import UsageError
from nm_tf.exact import thermodynamics
from nm_tf.hamiltonian import energy
from nm_tf.modes import analyse


def test_pt_samples_the_boltzmann_distribution_of_every_replica_temperature():
    """The coldest replica at T_min = 1.2 has the exact internal energy U(T)/N (L = 4, dual-code formula),
    and the recorded energies are the recomputed ones."""
    cfg = PTConfig(L=4, chains=50, replicas=4, sweeps=400, T_min=1.2, T_max=4.0, seed=3)
    r = parallel_tempering(cfg)
    e = energy(r["samples"], 4) / 16
    exact = thermodynamics(4, 1.2)["energy"]
    # Records of one chain are correlated: take the standard error over chain means.
    per_chain = e.reshape(-1, cfg.chains).mean(axis=0)
    stderr = per_chain.std(ddof=1) / math.sqrt(cfg.chains)
    assert abs(e.mean() - exact) < 5 * stderr + 1e-3
    np.testing.assert_array_equal(r["energy"], energy(r["bits"], 4))
    assert r["energy_evaluations"] == 50 * 4 * 400 and len(r["swap_acceptance"]) == 3
    assert all(0 < a <= 1 for a in r["swap_acceptance"])


# Default-suite budget (session 27): `slow`; the Boltzmann check of every replica
# and the O(1) kernel's equivalence stay in the default run.
@pytest.mark.slow
def test_pt_covers_every_ground_state_uniformly_and_is_seeded():
    cfg = PTConfig(L=3, chains=8, replicas=6, sweeps=600, T_min=0.3, T_max=3.0, seed=1)
    a, b = parallel_tempering(cfg), parallel_tempering(cfg)
    np.testing.assert_array_equal(a["samples"], b["samples"])
    stats = analyse(a["samples"], 3)
    assert a["ground_state_fraction"] > 0.95 and stats["distinct_ground_states"] == 4
    assert stats["kl_to_uniform"] < 0.05


def test_pt_config_errors_and_budget():
    with pytest.raises(UsageError, match="T_min"):
        PTConfig(T_min=2.0, T_max=1.0)
    with pytest.raises(UsageError, match="replicas"):
        PTConfig(replicas=1)
    cfg = PTConfig.equal_budget(L=6, steps=51_000, samples=100)
    assert cfg.chains * cfg.replicas * cfg.sweeps == 51_000 * 100
    np.testing.assert_allclose(cfg.temperatures[[0, -1]], [cfg.T_min, cfg.T_max])


def test_local_flip_updates_give_the_chain_of_full_energy_evaluations():
    """The sweep kernel's O(1) flip change (three triangle products, at each replica slot's temperature)
    accepts exactly the flips that evaluating the whole energy would, on every replica: same records,
    same swap and flip acceptances."""
    cfg = PTConfig(L=5, chains=6, replicas=5, sweeps=80, T_min=0.4, T_max=3.0, burnin=0.25, seed=2)
    local, full = parallel_tempering(cfg), parallel_tempering(cfg, local=False)
    same = (local["samples"] == full["samples"]).all(axis=1).mean()
    assert same > 0.99
    np.testing.assert_allclose(local["swap_acceptance"], full["swap_acceptance"], atol=0.02)
    assert local["flip_acceptance"] == pytest.approx(full["flip_acceptance"], abs=0.01)
