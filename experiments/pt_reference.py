"""Parallel tempering as the classical reference for uniform ground-state coverage (issue 15, section 3).

    python experiments/pt_reference.py --preset quick   # L = 3, 6; a short budget
    python experiments/pt_reference.py --preset paper   # L = 6, 7, 12, 15; the budget of a Table I anneal

Each run gets the energy-evaluation budget of one Table I anneal, counted as for simulated annealing
(one sweep of one chain = one configuration energy evaluation): chains x replicas x sweeps =
(1000 + 10 000 x 5) x 100. Ten chains, ten replicas on a geometric ladder T = 0.3 .. 3 (J = 1); the
chain at T = 0.3 is recorded over the second half of the sweeps. At equilibrium at T = 0.3 every ground
state has the same weight, and the ground-state manifold holds the exact fraction D e^(-E0/T) / Z(T)
(dual-code partition function; 0.932, 0.979, 0.563, 0.820 at L = 6, 7, 12, 15), which the summary shows
beside the measured one: a chain that matches it and covers the ground states evenly has equilibrated.
Reported per run: ground-state fraction of the recorded samples, effective ground states (exp of the
entropy over the ground states seen) against the exact degeneracy, KL to uniform, the chi^2 uniformity
p-value, swap acceptance, and the wall time. The chi^2 test treats the recorded samples as independent;
consecutive samples of a Markov chain are not, so for PT its p-value overstates the evidence against
uniformity: read the KL and the effective number instead.
Writes pt.csv, pt_summary.csv and pt.{png,pdf}; each finished run is kept in OUT/pt_runs/ and reused
(also by stats_success.py, whose PT runs at L = 6 are the same runs).
"""

import warnings

import numpy as np
from common import PT_LADDER, Experiment, baseline_cache, cached, figure, map_in_processes, parser, pt_result
from nm_tf.exact import ground_state_weight

PRESETS = {"quick": dict(sizes=(3, 6), seeds=2, steps=2_000), "paper": dict(sizes=(6, 7, 12, 15), seeds=3,
                                                                            steps=51_000)}
SAMPLES = 100   # N_s of the anneal whose budget PT gets
HEADER = ["L", "seed", "sweeps", "degeneracy", "ground_state_fraction", "effective_ground_states",
          "distinct_ground_states", "kl_to_uniform", "uniformity_p_value", "residual_energy_per_spin_final",
          "ground_state_hit_rate_final", "swap_acceptance_mean", "swap_acceptance_min", "recorded_samples",
          "wall_seconds"]


def main():
    args = parser(__doc__).parse_args()
    ex = Experiment(args, "pt")
    pre = PRESETS[args.preset]
    jobs = [(baseline_cache(ex.out, "pt", L, s, pre["steps"]), pt_result, L, s, pre["steps"], SAMPLES)
            for L in pre["sizes"] for s in range(pre["seeds"])]
    rows = [tuple(r[k] for k in HEADER) for r in map_in_processes(cached, jobs, args.jobs)]
    for r in rows:
        kl = "no ground state seen" if r[7] is None else f"KL {r[7]:.3f}"
        print(f"L={r[0]} seed {r[1]}: ground-state fraction {r[4]:.4f}, effective ground states {r[5]:.1f} of "
              f"{r[3]} ({r[6]} seen), {kl}, swaps {r[11]:.2f} (min {r[12]:.2f}), {r[14] / 60:.1f} min")
    ex.write_csv("", HEADER, rows)
    summary = []
    for L in pre["sizes"]:
        # KL is undefined (None -> NaN) for a run that saw no ground state: its mean is over the others.
        sel = np.array([[r[4], r[5] / r[3], np.nan if r[7] is None else r[7], r[14]] for r in rows if r[0] == L],
                       float)
        seen = np.sum(np.isfinite(sel), axis=0)
        with warnings.catch_warnings():          # all-NaN columns give NaN, not a warning per column
            warnings.simplefilter("ignore", RuntimeWarning)
            sem = np.nanstd(sel, axis=0, ddof=1) / np.sqrt(seen) if len(sel) > 1 else [np.nan] * 4
            summary.append((L, rows[[r[0] for r in rows].index(L)][3], len(sel), *np.nanmean(sel, axis=0), *sem,
                            ground_state_weight(L, PT_LADDER["T_min"])))
    ex.write_csv("_summary", ["L", "degeneracy", "runs", "ground_state_fraction", "effective_fraction",
                              "kl_to_uniform", "wall_seconds", "ground_state_fraction_sem", "effective_fraction_sem",
                              "kl_to_uniform_sem", "wall_seconds_sem", "equilibrium_ground_state_fraction"], summary)
    fig = figure((13, 3.8))
    sizes = [r[0] for r in summary]
    x = np.arange(len(sizes))                 # the sizes as categories: separate experiments, not a trend
    panels = [(3, 7, "ground-state fraction of the T = 0.3 chain", lambda r: r[4]),
              (4, 8, "effective ground states / degeneracy", lambda r: r[5] / r[3]),
              (5, 9, "KL(ground-state counts | uniform) [nats]", lambda r: r[7])]
    for k, (col, err, label, per_seed) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1)
        for i, L in enumerate(sizes):          # every run as a small dot beside the mean ± s.e.
            ys = [per_seed(r) for r in rows if r[0] == L and per_seed(r) is not None]
            ax.plot([i + 0.15] * len(ys), ys, ".", color="C0", alpha=0.5, ms=5,
                    label="one PT run (10 chains)" if i == 0 else None)
        ax.errorbar(x, [r[col] for r in summary], yerr=np.nan_to_num([r[err] for r in summary]), fmt="o",
                    capsize=3, color="C0", ls="none", label="PT, mean ± s.e. of runs")
        if col == 3:
            ax.plot(x, [r[11] for r in summary], "k_", ms=16, mew=2, ls="none",
                    label="exact at equilibrium, T = 0.3")
            ax.set_ylim(-0.02, 1.05)
        elif col == 4:
            ax.axhline(1.0, color="k", lw=0.8, ls="--", label="uniform over all")
            ax.set_ylim(-0.02, 1.05)
        else:
            ax.plot(x, [np.log(r[1]) for r in summary], "k_", ms=16, mew=1.5, ls="none",
                    label="ln D: a single ground state")
            ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
        ax.set_xticks(x)
        ax.set_xticklabels([f"L = {r[0]}\nD = {r[1]}" for r in summary], fontsize=8)
        ax.set_ylabel(label, fontsize=9)
    fig.suptitle("Parallel tempering on one Table I anneal's budget: its T = 0.3 replica over the second half of "
                 "each chain (thermal by design)", fontsize=9)
    fig.tight_layout()
    ex.save(fig)
    print("\n| L | degeneracy | runs | ground-state fraction | exact at equilibrium | effective / degeneracy | "
          "KL to uniform | wall (min) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in summary:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.4f} ± {r[7]:.4f} | {r[11]:.4f} | {r[4]:.3f} ± {r[8]:.3f} | "
              f"{r[5]:.3f} ± {r[9]:.3f} | {r[6] / 60:.1f} |")
    ex.finish(ladder=PT_LADDER, budget_steps=pre["steps"], budget_samples=SAMPLES)


if __name__ == "__main__":
    main()
