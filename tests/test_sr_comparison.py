"""Adam against SR: the per-size summary (experiments/sr_comparison.py, issue 27 §5)."""

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

from sr_comparison import HEADER, MEASURES, SR_ARMS, arm_lr, compare, run_names, summarise  # noqa: E402


def _row(optimizer, seed, success, fraction, excursion):
    values = dict(mode="vca", L=6, optimizer=optimizer, seed=seed, run=f"x_s{seed}", success=success,
                  energy_per_spin=-0.499, residual_energy_per_spin=1e-3, ground_state_fraction=fraction,
                  distinct_ground_states=16 if success else 0, degeneracy=16,
                  effective_ground_states=8.0 if success else math.nan, above_exact=0.05,
                  max_excursion=excursion, spikes=0.0, max_spike=0.01, wall_seconds=1.0, samples="stored",
                  lr=1e-4 if optimizer == "adam" else 0.03, outcome="finished", main_level_broken=0,
                  main_level_share=fraction, main_level_distinct=16, main_level_effective=8.0)
    return [values[h] for h in HEADER]


def test_summary_counts_successes_and_averages_only_the_runs_that_have_a_measure():
    rows = [_row("adam", 0, 1, 0.99, math.nan), _row("adam", 1, 1, 0.97, 0.06), _row("adam", 2, 0, 0.0, 0.10),
            _row("sr", 0, 1, 0.90, 0.02)]
    out = {r[2]: r for r in summarise(rows)}
    k = len(MEASURES)
    adam = out["adam"]
    assert adam[3:5] == [3, 2]                                   # runs, successes
    mean, sem = adam[5:5 + k], adam[5 + k:]
    at = MEASURES.index
    assert np.isclose(mean[at("ground_state_fraction")], (0.99 + 0.97 + 0.0) / 3)
    assert np.isclose(mean[at("max_excursion")], 0.08)          # the run without history is left out, not 0
    assert np.isclose(sem[at("max_excursion")], np.std([0.06, 0.10], ddof=1) / math.sqrt(2))
    assert np.isclose(mean[at("effective_ground_states")], 8.0)  # a failed run has no effective number
    assert out["sr"][3:5] == [1, 1] and math.isnan(out["sr"][5 + k + at("max_excursion")])


def test_a_diverged_run_counts_as_a_run_without_success_or_measures():
    diverged = _row("sr", 1, 0, math.nan, math.nan)
    diverged[HEADER.index("outcome")] = "diverged (step 11202, T=7.959, Gamma=0)"
    for h in MEASURES[1:]:
        diverged[HEADER.index(h)] = math.nan
    out = {r[2]: r for r in summarise([_row("sr", 0, 1, 0.90, 0.02), diverged])}["sr"]
    assert out[3:5] == [2, 1] and out[-1] == 1                  # runs, successes; diverged last
    assert np.isclose(out[5 + MEASURES.index("ground_state_fraction")], 0.90)


def test_every_sr_run_stands_beside_the_adam_run_of_its_seed():
    names = run_names()
    assert len(names) == 2 * (5 + 5 + 3) + 5 + 3                 # + VQA L = 5 and VCA L = 16 at the pilot's step
    adam = {(m, L, s): n for m, L, s, o, n in names if o == "adam"}
    for arm in SR_ARMS:
        sr = {(m, L, s): n for m, L, s, o, n in names if o == arm}
        assert set(sr) <= set(adam) and sr
        assert all(sr[k] == f"{arm}_" + adam[k] for k in sr)


def test_the_matched_arm_gives_each_size_the_pilots_step():
    # VQA's S is 1/4 of the Fisher matrix and its gradient the full one; the loss is extensive (the pilot: N = 36)
    assert math.isclose(arm_lr("sr_matched", "vqa", 5, 0.03), 0.03 / 4 * 36 / 25)
    assert math.isclose(arm_lr("sr_matched", "vca", 16, 0.03), 0.03 * 36 / 256)
    assert arm_lr("sr_matched", "vca", 6, 0.03) == arm_lr("sr", "vqa", 5, 0.03) == 0.03


def test_each_sr_arm_is_tested_against_adam_on_success_and_on_each_measure():
    adam = [_row("adam", s, 1, 0.99 + s / 1000, 0.05 + s / 1000) for s in range(4)] + [_row("adam", 4, 0, 0.0, 0.2)]
    sr = [_row("sr", s, 1 if s == 0 else 0, 0.5 - s / 100, 0.3 + s / 100) for s in range(5)]
    out = {t[3]: t for t in compare(adam + sr) if t[2] == "sr"}
    assert out["success"][4:10] == [5, 4, 4, 5, 1, 1]
    assert math.isclose(out["success"][10], 0.2063, abs_tol=1e-4)          # Fisher exact, 4/5 against 1/5
    excursion = out["max_excursion"]
    assert excursion[4] == excursion[7] == 5 and math.isclose(excursion[10], 2 / 252)   # apart: 2 / C(10, 5)
    assert "effective_ground_states" not in out     # one SR run in a ground state has it: no test on one run


def test_main_level_counts_the_configurations_on_the_level_most_samples_sit_on():
    from nm_tf.hamiltonian import triangle_parities
    from sr_comparison import main_level

    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, size=(4000, 9))
    broken = np.sum(np.asarray(triangle_parities(bits, 3)) == 0, axis=1)
    level = np.bincount(broken).argmax()
    on = bits[broken == level]
    # two configurations of that level, 3:1, make up 80 % of a new sample
    a, b = on[0], next(x for x in on if (x != on[0]).any())
    sample = np.array([a] * 600 + [b] * 200 + [x for x in bits[broken != level][:200]])
    out = main_level(sample, 3)
    assert out["main_level_broken"] == level and math.isclose(out["main_level_share"], 0.8)
    assert out["main_level_distinct"] == 2
    assert math.isclose(out["main_level_effective"], math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))))
