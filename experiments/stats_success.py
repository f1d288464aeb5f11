"""Multi-seed success statistics on equal budgets: VCA, VQA, simulated annealing and parallel tempering.

    python experiments/stats_success.py --preset quick   # L = 5, 6, 8; a few seeds
    python experiments/stats_success.py --preset paper   # L = 5, 6, 8, 16; Table I; 5 seeds

For each (method, L, seed): residual energy per spin of the final samples/chains, their
ground-state fraction, and success = at least one final sample at the ground-state energy.
Simulated annealing gets the same number of configuration energy evaluations as the variational
run (chains x sweeps = steps x N_s, see nm_tf.baselines.sa) and the same linear schedule from
T0 = 10. Parallel tempering (nm_tf.baselines.pt, tfp.mcmc.ReplicaExchangeMC) gets the same budget as
chains x replicas x sweeps (10 x 10 ladder, T = 0.3 .. 3); its final states are those of the T = 0.3
chain. VQA with the exact transverse-field sum at L = 5, 6; beyond, the runs of ``vqa_beyond.py`` (K = N/8 sampled
flips per sample, unbiased: L = 8, 5 seeds; L = 16, its 2 seeds), named as such in the figure.
Finished Fig. 2 / Fig. 3 runs are reused (same pool, same protocol); finished SA and PT runs are kept
in OUT/sa_runs/ and OUT/pt_runs/ and reused.
Writes stats.csv (one row per run), stats_summary.csv (mean, standard error, success rate with a
Wilson 68% interval) and stats.{png,pdf}.
"""

import math

import numpy as np
import vqa_beyond
from common import Experiment, baseline_cache, cached, figure, map_in_processes, parser, pt_result, sa_result

PRESETS = {
    "quick": dict(sizes=(5, 6, 8), seeds=3, vqa_sizes=(5, 6)),
    # VQA with every flip costs O(N^2) per step (benchmarks/README.md): beyond L = 6, vqa_beyond.py's sampled flips
    "paper": dict(sizes=(5, 6, 8, 16), seeds=5, vqa_sizes=(5, 6)),
}
METHODS = ("vca", "vqa", "sa", "pt")
NOTE = {"pt": " (T = 0.3, 10 chains)", "vqa": " (L ≥ 8: K = N/8 sampled flips)"}     # legend notes


def wilson(k: int, n: int, z: float = 1.0):
    """Wilson score interval of a success rate k/n (z = 1: ~68%)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def main():
    args = parser(__doc__).parse_args()
    ex = Experiment(args, "stats")
    pre = PRESETS[args.preset]
    proto = ex.protocol()
    steps = proto["warmup"] + proto["annealing_steps"] * proto["train_steps"]
    seeds = range(pre["seeds"])
    tasks = [ex.standard(m, L, s) for L in pre["sizes"] for m in ("vca", "vqa") for s in seeds
             if m == "vca" or L in pre["vqa_sizes"]]
    beyond = [task for group in vqa_beyond.groups(ex).values() for L, task in group if L in pre["sizes"]]
    tasks += beyond
    summaries = ex.run_all(tasks)
    rows = []
    for name, s in summaries.items():
        rows.append((s["mode"], s["L"], int(name.rsplit("_s", 1)[1]),
                     s["energy_per_spin_mean"] - s["ground_state_energy_per_spin"], s["ground_state_fraction"],
                     int(s["ground_state_fraction"] > 0)))
    # Baselines: each finished run is kept in OUT/sa_runs/ and OUT/pt_runs/ (shared with pt_reference.py).
    base = [(L, s) for L in pre["sizes"] for s in seeds]
    for method, fn in (("sa", sa_result), ("pt", pt_result)):
        jobs = [(baseline_cache(ex.out, method, L, s, steps), fn, L, s, steps, proto["samples"]) for L, s in base]
        for (L, s), r in zip(base, map_in_processes(cached, jobs, args.jobs)):
            hit = r["ground_state_hit_rate_final"]
            rows.append((method, L, s, r["residual_energy_per_spin_final"], hit, int(hit > 0)))
    rows.sort(key=lambda r: (METHODS.index(r[0]), r[1], r[2]))
    ex.write_csv("", ["method", "L", "seed", "residual_energy_per_spin", "ground_state_fraction", "success"], rows)
    summary = []
    for method in METHODS:
        for L in pre["sizes"]:
            sel = [r for r in rows if r[0] == method and r[1] == L]
            if not sel:
                continue
            res, frac, ok = (np.array([r[i] for r in sel], float) for i in (3, 4, 5))
            n = len(sel)
            lo, hi = wilson(int(ok.sum()), n)
            summary.append((method, L, n, res.mean(), res.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan,
                            frac.mean(), frac.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan, ok.mean(), lo, hi))
    ex.write_csv("_summary", ["method", "L", "runs", "residual_energy_per_spin_mean", "residual_energy_per_spin_sem",
                              "ground_state_fraction_mean", "ground_state_fraction_sem", "success_rate",
                              "success_rate_lo68", "success_rate_hi68"], summary)
    fig = figure((13, 4.2))
    for k, (col, err, label) in enumerate([(3, 4, "residual energy per spin"), (5, 6, "ground-state fraction"),
                                           (7, None, "success rate (some sample at E0)")]):
        ax = fig.add_subplot(1, 3, k + 1)
        for j, method in enumerate(METHODS):
            pts = [r for r in summary if r[0] == method]
            if not pts:
                continue
            # the sizes as categories, markers only: L = 5, 6, 8, 16 are separate experiments, not a trend
            x = np.array([list(pre["sizes"]).index(r[1]) for r in pts]) + 0.12 * (j - 1.5)
            y = np.array([r[col] for r in pts])
            yerr = (np.array([r[err] for r in pts]) if err else
                    np.array([[r[7] - r[8] for r in pts], [r[9] - r[7] for r in pts]]))
            ax.errorbar(x, y, yerr=np.nan_to_num(yerr), fmt="os^D"[j % 4], capsize=3, ms=5, ls="none",
                        label=method.upper() + NOTE.get(method, "") if beyond or method != "vqa" else "VQA")
        ax.set_xlabel("L")
        ax.set_ylabel(label)
        ax.set_xticks(range(len(pre["sizes"])))
        ax.set_xticklabels([str(L) for L in pre["sizes"]])
        if col == 3:
            ax.set_yscale("log")
    # one legend under the panels: inside, it covered points (SA and PT at L = 5 in the middle panel)
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("Equal budgets (51 000 x 100 energy evaluations per run; 5 runs per point (VQA L = 16: 2), "
                 "mean ± s.e., success "
                 "with its 68 % Wilson interval). VCA, VQA: 10^5 samples at T = 0; SA: T = 0; PT: its T = 0.3 "
                 "replica, thermal by design", fontsize=8)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    ex.save(fig)
    print("\n| method | L | runs | residual E/N (± s.e.) | ground-state fraction (± s.e.) | success rate |\n"
          "|---|---|---|---|---|---|")
    for r in summary:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.4f} ± {r[4]:.4f} | {r[5]:.3f} ± {r[6]:.3f} | "
              f"{r[7]:.2f} ({r[8]:.2f}–{r[9]:.2f}) |")
    ex.finish()


if __name__ == "__main__":
    main()
