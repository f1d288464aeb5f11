"""The curvature report's phases and precursors (experiments/curvature_report.py, issue 27 §5)."""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

from curvature_report import deviation_curve, noise_fits, phase_of, phases, precursors  # noqa: E402


def _rows(devs, keys, quantum=False):
    exact = -0.5
    return [SimpleNamespace(phase="anneal", step=10 * (i + 1), T=0.0 if quantum else k, gamma=k if quantum else 0.0,
                            exact_per_spin=None if quantum else exact, loss_per_spin=exact + d * abs(exact))
            for i, (d, k) in enumerate(zip(devs, keys))]


def _overshoot(n=200):
    keys = [0.5 - 0.5 * i / n for i in range(n)]
    dev = [0.0] * n
    for i in range(80, 140):                 # above 1 % from about row 82 to 137, largest at row 120
        dev[i] = 0.1 * (1 - abs(i - 120) / 60)
    return keys, dev


def test_phases_cut_the_anneal_at_the_overshoot():
    keys, dev = _overshoot()
    steps, key, smooth = deviation_curve(_rows(dev, keys), quantum=False)
    ph = phases(steps, key, smooth, window=(0.0, 0.45))
    assert smooth[steps.tolist().index(ph["onset"]) - 1] <= 0.01 < smooth[steps.tolist().index(ph["onset"])]
    assert abs(ph["peak"] - 1210) <= 60 and ph["onset"] < ph["peak"] < ph["back"]
    assert smooth[steps.tolist().index(ph["back"])] < 0.01
    assert [phase_of(s, ph) for s in (ph["onset"] - 10, ph["onset"], ph["peak"] + 10, ph["back"])] == \
        ["before", "rising", "falling", "after"]
    assert abs(ph["largest_deviation"] - 0.1) < 0.01


def test_vqa_deviation_uses_the_exact_energy_it_is_given():
    keys, dev = _overshoot()
    rows = _rows(dev, keys, quantum=True)
    for r in rows:
        r.loss_per_spin += 0.01 * r.gamma               # an exact curve e0(Gamma) = -0.5 + 0.01 Gamma
    _, key, smooth = deviation_curve(rows, quantum=True, e0=lambda g: -0.5 + 0.01 * np.asarray(g))
    np_dev = np.array(dev)
    assert np.allclose(key, keys)
    assert abs(smooth.max() - np_dev.max()) < 0.01 and smooth[:60].max() < 1e-9


def test_no_overshoot_is_all_before():
    steps, key, smooth = deviation_curve(_rows([0.001] * 50, [0.3 - 0.005 * i for i in range(50)]), quantum=False)
    ph = phases(steps, key, smooth, window=(0.0, 0.35))
    assert ph["onset"] is None and {phase_of(int(s), ph) for s in steps} == {"before"}


def test_precursors_are_the_first_jump_and_the_first_negative_curvature():
    points = [(10, 100.0, -0.5), (20, 150.0, -0.9), (30, 250.0, -1.0), (40, 90.0, -5.0), (50, 400.0, -0.1)]
    assert precursors(points) == {"jump": 30, "negative": 40}       # 250 > 2 x 100; -5 < -1 % of 90
    assert precursors([(10, 1.0, 0.5)]) == {"jump": None, "negative": None}


def test_noise_fit_recovers_the_large_sample_edge():
    """Edges that fall like 1/sqrt(samples) onto 3 (top) and -1 (bottom): the fit's intercepts are those."""
    rows = [["run", "p", 10, 0.0, 0.5, n, seed, 3 + 200 / np.sqrt(n) + 0.01 * seed, -1 - 300 / np.sqrt(n), 20]
            for n in (500, 1000, 2000, 4000) for seed in (0, 1)]
    fit = noise_fits(rows)[("run", "p")]
    assert abs(fit["top"][0] - 3.005) < 1e-6 and abs(fit["top"][2] - 200) < 1e-6
    assert abs(fit["bottom"][0] + 1) < 1e-9 and fit["bottom"][1] < 1e-9
