"""Fig. 2: VCA free energy per spin along the anneal against the exact F(T)/N, over seeds.

    python experiments/fig2_vca_free_energy.py --preset quick   # minutes on 2 cores
    python experiments/fig2_vca_free_energy.py --preset paper   # Table I, 5 seeds per size

Panel (a): non-degenerate sizes L = 5, 16; panel (b): degenerate L = 3, 6. Top: every seed's variational F/N against
the exact F(T)/N (GF(2) dual-code enumeration, any L; black, dashed or dotted), insets below T = 1.5; bottom: every
seed's relative deviation |F/F_exact - 1| on a log scale, where the single-run spikes at low T show. Writes
fig2.{png,pdf}, fig2.csv (per annealing step: median, min, max, exact) and fig2_runs.csv (per seed: final energy,
ground-state fraction, median and max relative deviation from the exact F).
"""

import numpy as np
from common import Experiment, figure, parser, seed_curves

PANELS = {"a": (5, 16), "b": (3, 6)}
SEEDS = {"quick": 2, "paper": 5}
INSET_T = 1.5


def main():
    args = parser(__doc__).parse_args()
    ex = Experiment(args, "fig2")
    from nm_tf.exact import thermodynamics

    sizes = PANELS["a"] + PANELS["b"]
    seeds = range(SEEDS[args.preset])
    summaries = ex.run_all(ex.standard("vca", L, s) for L in sizes for s in seeds)
    curves, rows, per_run = {}, [], []
    for L in sizes:
        rows0, F = seed_curves(ex, "vca", L, seeds)                              # F: [seeds, steps]
        T = np.array([r.T for r in rows0])
        exact = np.array([-0.5 if t == 0 else thermodynamics(L, t)["free_energy"] for t in T])
        curves[L] = (T, F, exact)
        med, lo, hi = np.median(F, 0), F.min(0), F.max(0)
        steps = [r.annealing_step for r in rows0]
        rows += [(L, a, t, m, mn, mx, e) for a, t, m, mn, mx, e in zip(steps, T, med, lo, hi, exact)]
        for s, f in zip(seeds, F):
            dev = np.abs(f - exact) / np.abs(exact)
            sm = summaries[f"vca_L{L}_s{s}"]
            per_run.append((L, s, sm["energy_per_spin_mean"], sm["ground_state_energy_per_spin"],
                            sm["ground_state_fraction"], np.median(dev), dev.max(), T[np.argmax(dev)]))
    ex.write_csv("", ["L", "annealing_step", "T", "F_median", "F_min", "F_max", "F_exact"], rows)
    ex.write_csv("_runs", ["L", "seed", "final_energy_per_spin", "ground_state_energy_per_spin",
                           "ground_state_fraction", "median_rel_dev_F", "max_rel_dev_F", "T_at_max_dev"], per_run)

    fig = figure((11, 8))
    for k, (panel, panel_sizes) in enumerate(PANELS.items()):
        ax = fig.add_subplot(2, 2, k + 1)
        dev_ax = fig.add_subplot(2, 2, k + 3)
        ins = ax.inset_axes([0.56, 0.1, 0.4, 0.42])
        for L, color, (dash, dash_name) in zip(panel_sizes, ("C0", "C2"), (("--", "dashed"), (":", "dotted"))):
            T, F, exact = curves[L]
            for target, low in ((ax, slice(None)), (ins, T <= INSET_T)):
                # every seed its own trace (a median would hide the single-run spikes the paper is about);
                # the exact references in black, one dash pattern per size, so no curve hides its reference
                for j, f in enumerate(F):
                    target.plot(T[low], f[low], color=color, lw=0.7, alpha=0.75,
                                label=f"VCA L={L} ({len(F)} seeds)" if j == 0 else None)
                target.plot(T[low], exact[low], dash, color="k", lw=1.2, label=f"exact L={L} ({dash_name})")
            for j, f in enumerate(F):
                dev = np.abs(f / exact - 1.0)
                dev_ax.semilogy(T, np.where(dev > 0, dev, np.nan), color=color, lw=0.6, alpha=0.75,
                                label=f"L={L}" if j == 0 else None)
        for a in (ax, ins, dev_ax):
            a.invert_xaxis()
        ax.set_xlabel("temperature T")
        ax.set_ylabel("free energy per spin F / N")
        ax.set_title(f"({panel}) {'non-degenerate' if panel == 'a' else 'degenerate'} sizes: F/N per seed against "
                     f"the exact F(T)/N", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
        ins.set_xlabel("T", fontsize=7, labelpad=1)
        ins.set_ylabel("F / N", fontsize=7)
        ins.tick_params(labelsize=7)
        dev_ax.set_xlabel("temperature T")
        dev_ax.set_ylabel("|F / F_exact − 1|")
        dev_ax.set_title(f"({panel}) relative deviation from the exact curve, per seed", fontsize=9)
        dev_ax.legend(fontsize=7, loc="upper left")
        dev_ax.tick_params(labelsize=8)
    fig.tight_layout()
    ex.save(fig)
    for r in per_run:
        print(f"L={r[0]} seed={r[1]}: final E/N {r[2]:+.4f} (exact {r[3]:+.4f}), ground-state fraction {r[4]:.3f}, "
              f"F deviation median {r[5]:.3%} max {r[6]:.2%} at T={r[7]:.3g}")
    ex.finish()


if __name__ == "__main__":
    main()
