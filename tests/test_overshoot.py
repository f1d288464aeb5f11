"""The overshoot's split into energy and entropy and the energy's effective temperature (experiments/overshoot.py)."""

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

from overshoot import effective_temperature, exact, measure  # noqa: E402

from nm_tf.annealing.config import AnnealConfig  # noqa: E402
from nm_tf.annealing.rundir import RunDir  # noqa: E402


@pytest.mark.parametrize("L", [4, 6])
def test_effective_temperature_inverts_the_exact_energy(L):
    for T in (0.15, 0.4, 1.0, 3.0):
        assert abs(effective_temperature(L, exact(L, T)["energy"]) - T) < 1e-3 * T
    assert np.isnan(effective_temperature(L, -0.6))          # below the ground-state energy: no temperature


def test_a_network_whose_energy_freezes_shows_the_freezing_temperature_and_the_split(tmp_path):
    """A synthetic anneal in equilibrium down to T = 0.4 whose energy and entropy then stay those of T = 0.4: the
    excess of F is largest at the lowest T, it splits into the energy and entropy excess exactly, and T_eff = 0.4."""
    L, frozen = 4, 0.4
    run = RunDir(tmp_path / "run")
    run.write_config(AnnealConfig(L=L, mode="vca", seed=0))
    temps = np.round(np.linspace(2.0, 0.1, 400), 6)
    with run.history_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "phase", "annealing_step", "T", "gamma", "loss_per_spin", "energy_per_spin",
                    "energy_std_per_spin", "entropy_per_spin", "exact_per_spin", "grad_norm", "ground_state_fraction"])
        for k, T in enumerate(temps):
            net = exact(L, max(T, frozen))
            w.writerow([k, "anneal", k, T, 0.0, net["energy"] - T * net["entropy"], net["energy"], 0.1,
                        net["entropy"], exact(L, T)["free_energy"], 1.0, ""])
    m = measure(run)
    assert abs(m["T_peak"] - 0.1) < 0.01
    ex = exact(L, round(m["T_peak"], 6))
    assert abs(m["dE"] - (exact(L, frozen)["energy"] - ex["energy"])) < 1e-9
    assert abs(m["dF"] - (m["dE"] + m["minus_T_dS"])) < 1e-12 and m["minus_T_dS"] < 0 < m["dE"]
    assert abs(m["T_eff"] - frozen) < 1e-3
    assert 0.3 < m["T_onset"] <= frozen + 0.01          # F leaves the exact curve soon after the freezing
