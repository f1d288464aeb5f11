"""Mode collapse: how many of the degenerate ground states does the network itself cover?

    python experiments/coverage_study.py --preset quick   # L = 3, 6; 2 seeds; minutes
    python experiments/coverage_study.py --preset paper   # L = 6, 7; Table I anneals; 3 seeds

Strategies (VCA, Table I otherwise):
- ``baseline``: the paper's anneal to T = 0;
- ``penalty``: the paper's trivial-state penalty, lambda * (number of down spins), lambda = 0.05 J;
- ``t_final``: stop the anneal at the temperature where the exact Boltzmann distribution puts 90%
  of its weight on ground states (from the exact partition function). At T > 0 the free energy
  rewards entropy, and its minimiser spreads that weight uniformly over all ground states, so the
  ansatz has a reason to keep every mode; at T = 0 any single ground state is optimal;
- ``symmetry``: train the symmetrised p_G over ker A (``--symmetry kernel``); measured here is the
  network's own p_theta, which p_G no longer forces to collapse onto one mode;
- ``sqrt_schedule``: an entropy bonus that decays more slowly than the linear T: T(t) = T0 sqrt(1 - t)
  (piecewise linear through 21 points), still ending at T = 0. The weight of the entropy term stays
  above T0/10 for 99% of the anneal instead of 90%: the ground states are told apart only in the last
  per cent, which leaves the optimiser less time to move the weight onto one of them.

Every statistic is of p_theta itself (fresh samples, no symmetrisation): effective ground states
(exp of the entropy over the ground states found), KL to uniform, exact min_g p(g) over the
enumerated ground states, ground-state fraction; and the wall time of each anneal.
Writes coverage.csv, coverage_summary.csv and coverage.{png,pdf}.
"""

import math

import numpy as np
from common import Experiment, figure, parser
from nm_tf.exact import ground_state_weight

PRESETS = {"quick": dict(sizes=(3, 6), seeds=2), "paper": dict(sizes=(6, 7), seeds=3)}
STRATEGIES = ("baseline", "penalty", "t_final", "symmetry", "sqrt_schedule")
SAMPLES = 20_000
SQRT_POINTS = tuple((round(t, 4), round(math.sqrt(1 - t), 6)) for t in np.linspace(0, 1, 21))
PENALTY = 0.05
TARGET_GROUND_WEIGHT = 0.9
LABELS = {"baseline": "plain\nanneal", "penalty": "trivial\npenalty", "t_final": "stop at\nT_final",
          "symmetry": "trained\non p_G", "sqrt_schedule": "√ T\nschedule"}


def t_final_for(L: int) -> float:
    lo, hi = 1e-3, 5.0    # ground weight decreases with T: bisect
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ground_state_weight(L, mid) > TARGET_GROUND_WEIGHT else (lo, mid)
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
        print(f"L={L}: T_final = {t_final[L]:.4f} (exact ground-state weight {ground_state_weight(L, t_final[L]):.3f})")
        for strategy in STRATEGIES:
            extra = {"penalty": dict(penalty=PENALTY), "t_final": dict(T_final=t_final[L]),
                     "symmetry": dict(symmetry="kernel"),
                     "sqrt_schedule": dict(schedule="points", schedule_points=SQRT_POINTS)}.get(strategy, {})
            for seed in range(pre["seeds"]):
                if strategy == "baseline":   # the plain Table I run: shared with Fig. 2 and the statistics
                    tasks.append(ex.standard("vca", L, seed))
                else:
                    tasks.append(ex.task(f"{strategy}_L{L}_s{seed}", ex.config("vca", L, seed, **extra)))
    summaries = ex.run_all(tasks, partial_ok=True)
    rows = []
    for task in [t for t in tasks if t.name in summaries]:
        strategy, size, seed = task.name.rsplit("_", 2)
        strategy = "baseline" if strategy == "vca" else strategy
        L = int(size[1:])
        # Fresh samples of p_theta itself (the stored final sample of a symmetry run is p_G's).
        bits, _, _, log_prob = samples_from_run(task.workdir, SAMPLES, seed=0, with_log_prob=True)
        s = analyse(bits, L, log_prob=log_prob)
        wall = summaries[task.name]["wall_seconds"]
        rows.append((strategy, L, int(seed[1:]), s["degeneracy"], s["distinct_ground_states"],
                     s["effective_ground_states"] or 0.0, s["kl_to_uniform"] if s["kl_to_uniform"] is not None else "",
                     s["min_ground_state_probability"], s["ground_state_fraction"], wall))
        print(f"{strategy:>13} L={L} {seed}: {s['distinct_ground_states']}/{s['degeneracy']} ground states, "
              f"effective {rows[-1][5]:.2f}, ground-state fraction {s['ground_state_fraction']:.3f}, "
              f"{wall / 60:.1f} min", flush=True)
    ex.write_csv("", ["strategy", "L", "seed", "degeneracy", "distinct_ground_states", "effective_ground_states",
                      "kl_to_uniform", "min_ground_state_probability", "ground_state_fraction", "wall_seconds"],
                 rows)
    summary = []
    for strategy in STRATEGIES:
        for L in pre["sizes"]:
            sel = [r for r in rows if r[0] == strategy and r[1] == L]
            if not sel:          # --finished-only before any of its runs finished
                continue
            kl = [r[6] for r in sel if r[6] != ""]
            summary.append((strategy, L, sel[0][3], np.mean([r[5] for r in sel]), max(r[5] for r in sel),
                            np.mean(kl) if kl else math.nan, np.mean([r[8] for r in sel]),
                            np.mean([r[9] for r in sel]) / 60, len(sel)))
    ex.write_csv("_summary", ["strategy", "L", "degeneracy", "mean_effective_ground_states",
                              "best_effective_ground_states", "mean_kl_to_uniform", "mean_ground_state_fraction",
                              "mean_wall_minutes", "seeds"], summary)
    # Strategies along x, one colour per L: every seed as a point, the mean as a bar, so the seed spread
    # (large here: one seed can cover all ground states and the next two) stays visible.
    fig = figure((13, 4.6))
    for k, (label, value) in enumerate([("effective ground states / degeneracy", lambda r: r[5] / r[3]),
                                        ("KL(p_θ over ground states | uniform) [nats]", lambda r: r[6]),
                                        ("ground-state fraction", lambda r: r[8])]):
        ax = fig.add_subplot(1, 3, k + 1)
        for j, L in enumerate(pre["sizes"]):
            colour = f"C{j}"
            for i, strategy in enumerate(STRATEGIES):
                y = [value(r) for r in rows if r[0] == strategy and r[1] == L and r[6] != ""] if k == 1 else \
                    [value(r) for r in rows if r[0] == strategy and r[1] == L]
                if not y:
                    continue
                x = i + 0.22 * (j - (len(pre["sizes"]) - 1) / 2)
                ax.plot([x] * len(y), y, "o", color=colour, alpha=0.45, ms=4,
                        label=f"one seed, L = {L}" if i == 0 and k == 0 else None)
                ax.plot([x - 0.09, x + 0.09], [np.mean(y)] * 2, "-", color=colour, lw=2.5,
                        label=f"mean of seeds, L = {L}" if i == 0 and k == 0 else None)
        if k == 1:
            for j, L in enumerate(pre["sizes"]):
                deg = next((r[3] for r in rows if r[1] == L), None)
                if deg:
                    ax.axhline(math.log(deg), color=f"C{j}", ls=":", lw=1)
                    # between the penalty and T_final columns, where no point sits that high
                    ax.annotate(f"ln {deg}: one state (L = {L})", (1.5, math.log(deg)), xytext=(0, 3),
                                textcoords="offset points", color=f"C{j}", fontsize=7.5, ha="center",
                                va="bottom")
            ax.set_ylim(top=ax.get_ylim()[1] + 0.3)     # room for the label above the highest line
        if k == 2:      # what p_theta would hold at T_final if it were the Boltzmann distribution
            ax.plot(STRATEGIES.index("t_final"), TARGET_GROUND_WEIGHT, "kx", ms=7)
            ax.annotate("exact Boltzmann\nat T_final", (STRATEGIES.index("t_final"), TARGET_GROUND_WEIGHT),
                        xytext=(6, -4), textcoords="offset points", fontsize=7, va="top")
        ax.set_xticks(range(len(STRATEGIES)))
        ax.set_xticklabels([LABELS[s] for s in STRATEGIES], fontsize=8.5)
        ax.set_ylabel(label, fontsize=9)
    fig.legend(loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("Does the network itself cover the ground states? p_θ of each run, 20 000 fresh samples, nothing "
                 "symmetrised\n(\"trained on p_G\": the network's own p_θ after training p_G; penalty λ = 0.05; "
                 "T_final: 90 % exact ground-state weight)", fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    ex.save(fig)
    print("\n| strategy | L | degeneracy | seeds | effective ground states (mean, best) | KL to uniform | "
          "ground-state fraction | wall (min) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in summary:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[8]} | {r[3]:.2f}, {r[4]:.2f} | {r[5]:.3f} | {r[6]:.3f} | {r[7]:.1f} |")
    ex.finish()


if __name__ == "__main__":
    main()
