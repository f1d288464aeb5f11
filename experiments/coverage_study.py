"""Mode collapse: how many of the degenerate ground states does the final sample cover?

    python experiments/coverage_study.py --preset quick   # L = 3, 6, 7; 3 seeds
    python experiments/coverage_study.py --preset paper   # Table I anneals; 5 seeds

Strategies (VCA):
- ``baseline``: the paper's anneal to T = 0;
- ``penalty``: the paper's trivial-state penalty, lambda * (number of down spins), lambda = 0.05 J;
- ``t_final``: stop the anneal at the temperature where the exact Boltzmann distribution puts 90%
  of its weight on ground states (from the exact partition function). At T > 0 the free energy
  rewards entropy, and its minimiser spreads that weight uniformly over all ground states, so the
  ansatz has a reason to keep every mode; at T = 0 any single ground state is optimal.
Writes coverage.csv, coverage_summary.csv and coverage.png.
"""

import math

import numpy as np
from common import Experiment, figure, parser

PRESETS = {"quick": dict(sizes=(3, 6, 7), seeds=3), "paper": dict(sizes=(3, 6, 7), seeds=5)}
STRATEGIES = ("baseline", "penalty", "t_final")
PENALTY = 0.05
TARGET_GROUND_WEIGHT = 0.9


def ground_weight(L: int, T: float) -> float:
    """Exact Boltzmann probability of the ground-state manifold at temperature T."""
    from nm_tf.exact import log2_degeneracy, thermodynamics

    n = L * L
    return math.exp(log2_degeneracy(L) * math.log(2) + 0.5 * n / T - thermodynamics(L, T)["log_Z"])


def t_final_for(L: int) -> float:
    lo, hi = 1e-3, 5.0    # ground weight decreases with T: bisect
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ground_weight(L, mid) > TARGET_GROUND_WEIGHT else (lo, mid)
    return lo


def main():
    args = parser(__doc__).parse_args()
    ex = Experiment(args, "coverage")
    from nm_tf.modes.analysis import analyse
    from nm_tf.modes.sources import samples_from_run

    pre = PRESETS[args.preset]
    t_final = {L: t_final_for(L) for L in pre["sizes"]}
    tasks = []
    for L in pre["sizes"]:
        print(f"L={L}: T_final = {t_final[L]:.4f} (exact ground-state weight {ground_weight(L, t_final[L]):.3f})")
        for strategy in STRATEGIES:
            extra = {"penalty": dict(penalty=PENALTY), "t_final": dict(T_final=t_final[L])}.get(strategy, {})
            for seed in range(pre["seeds"]):
                tasks.append(ex.task(f"{strategy}_L{L}_s{seed}",
                                     ex.config("vca", L, seed, final_samples=20_000, **extra)))
    ex.run_all(tasks)
    rows = []
    for task in tasks:
        strategy, size, seed = task.name.rsplit("_", 2)
        L = int(size[1:])
        bits, _, _ = samples_from_run(task.workdir, 20_000)
        s = analyse(bits, L)
        rows.append((strategy, L, int(seed[1:]), s["degeneracy"], s["distinct_ground_states"], s["coverage"],
                     s["ground_state_fraction"], s["kl_to_uniform"] if s["kl_to_uniform"] is not None else ""))
        print(f"{strategy:>8} L={L} {seed}: {s['distinct_ground_states']}/{s['degeneracy']} ground "
              f"states, ground-state fraction {s['ground_state_fraction']:.3f}", flush=True)
    ex.write_csv("", ["strategy", "L", "seed", "degeneracy", "distinct_ground_states", "coverage",
                      "ground_state_fraction", "kl_to_uniform"], rows)
    summary = []
    for strategy in STRATEGIES:
        for L in pre["sizes"]:
            sel = [r for r in rows if r[0] == strategy and r[1] == L]
            summary.append((strategy, L, sel[0][3], np.mean([r[4] for r in sel]), max(r[4] for r in sel),
                            np.mean([r[5] for r in sel]), np.mean([r[6] for r in sel])))
    ex.write_csv("_summary", ["strategy", "L", "degeneracy", "mean_found", "best_found",
                              "mean_coverage", "mean_ground_state_fraction"], summary)
    fig = figure((9, 3.4))
    for k, (col, label) in enumerate([(5, "coverage (found / degeneracy)"), (6, "ground-state fraction")]):
        ax = fig.add_subplot(1, 2, k + 1)
        for strategy in STRATEGIES:
            ax.plot(*zip(*[(r[1], r[col]) for r in summary if r[0] == strategy]), "o-", label=strategy)
        ax.set_xlabel("L")
        ax.set_ylabel(label)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
    fig.tight_layout()
    ex.save(fig)
    print("\n| strategy | L | degeneracy | mean found | best found | mean coverage | ground-state fraction |")
    print("|---|---|---|---|---|---|---|")
    for r in summary:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f} | {r[4]} | {r[5]:.2f} | {r[6]:.3f} |")
    ex.finish()


if __name__ == "__main__":
    main()
