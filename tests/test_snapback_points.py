"""The snap-back study's choice of landscape points (experiments/snapback_landscapes.py, issue 27 §5)."""

import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

from snapback_landscapes import choose_points  # noqa: E402


def _rows(devs, T):
    exact = -0.5
    return [SimpleNamespace(phase="anneal", step=10 * (i + 1), T=t, exact_per_spin=exact,
                            loss_per_spin=exact + d * abs(exact)) for i, (d, t) in enumerate(zip(devs, T))]


def test_before_at_and_after_the_largest_overshoot():
    n = 200
    T = [0.5 - 0.5 * i / n for i in range(n)]
    dev = [0.0] * n
    for i in range(80, 140):                 # an overshoot from row 80 to 139, peaking at row 120
        dev[i] = 0.1 * (1 - abs(i - 120) / 60)
    dev[30] = 0.5                             # one wild row: the running median ignores it
    rows = _rows(dev, T)
    kept = [r.step for r in rows][::5]
    got = choose_points(rows, kept, window=(0.1, 0.45))
    inside = [s for s in kept if 0.1 <= T[s // 10 - 1] <= 0.45]
    # the kept point of the largest smoothed deviation, at the peak (row 120, step 1210) up to the median's plateau
    assert got["deviation"][got["at"]] == max(got["deviation"].values()) and abs(got["at"] - 1210) <= 60
    assert got["deviation"][got["before"]] < 0.01 and got["before"] < got["at"]
    assert all(got["deviation"][s] >= 0.01 for s in inside if got["before"] < s <= got["at"])
    assert got["deviation"][got["after"]] < 0.01 and got["after"] > got["at"]
    assert all(got["deviation"][s] >= 0.01 for s in inside if got["at"] <= s < got["after"])
    assert set(got["deviation"]) == set(inside)


def test_without_a_return_below_one_percent_the_window_ends_are_used():
    n = 100
    T = [0.5 - 0.5 * i / n for i in range(n)]
    rows = _rows([0.05 + 0.001 * i for i in range(n)], T)      # above 1 % everywhere, largest at the end
    kept = [r.step for r in rows]
    got = choose_points(rows, kept, window=(0.1, 0.35))
    inside = [s for s, t in zip(kept, T) if 0.1 <= t <= 0.35]
    assert got["before"] == inside[0] and got["at"] == inside[-1] == got["after"]
