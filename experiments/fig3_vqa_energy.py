"""Fig. 3: VQA variational energy per spin against the exact quantum ground energy e0(Gamma), over seeds.

    python experiments/fig3_vqa_energy.py --preset quick
    python experiments/fig3_vqa_energy.py --preset paper   # Table I, 3 seeds per size

L = 3 and 5 (exact Lanczos in the zero-momentum sector): median over seeds and min-max band;
insets past the self-dual point Gamma = J/2, where the fractal transition sits (see README).
Writes fig3.{png,pdf}, fig3.csv (L, Gamma, median/min/max variational E/N, exact e0/N where
computed), fig3_exact.csv (the dense exact grid of the insets) and fig3_runs.csv (per seed: final energy,
ground-state fraction, deviation from e0 at the runs' exact points, and its maximum below Gamma = J/2 on the
dense grid).
"""

import numpy as np
from common import Experiment, figure, parser, seed_curves

SIZES = (3, 5)
SEEDS = {"quick": 2, "paper": 3}
INSET_GAMMA = 1.0   # the inset shows Gamma <= 1: the self-dual point J/2 and below


def main():
    args = parser(__doc__).parse_args()
    ex = Experiment(args, "fig3")
    from nm_tf.exact import quantum_ground_energy

    seeds = range(SEEDS[args.preset])
    summaries = ex.run_all(ex.standard("vqa", L, s) for L in SIZES for s in seeds)
    curves, rows, per_run, exact_rows = {}, [], [], []
    for L in SIZES:
        rows0, E = seed_curves(ex, "vqa", L, seeds)
        G = np.array([r.gamma for r in rows0])
        exact = np.array([np.nan if r.exact_per_spin is None else r.exact_per_spin for r in rows0])
        # A denser exact curve for the inset (seconds per point at L = 5).
        extra = np.linspace(0.0, INSET_GAMMA, 21 if L <= 4 else 11)
        grid = np.concatenate([G[~np.isnan(exact)], extra])
        curve = np.concatenate([exact[~np.isnan(exact)], [quantum_ground_energy(L, g) for g in extra]])
        grid, idx = np.unique(grid, return_index=True)
        curves[L] = (G, E, exact, grid, curve[idx])
        rows += [(L, g, m, lo, hi, "" if np.isnan(x) else x)
                 for g, m, lo, hi, x in zip(G, np.median(E, 0), E.min(0), E.max(0), exact)]
        ok = ~np.isnan(exact)
        grid_g, grid_e = curves[L][3], curves[L][4]
        below = grid_g < 0.5                   # past the self-dual point, on the dense exact grid of the inset
        exact_rows += [(L, g, e0) for g, e0 in zip(grid_g, grid_e)]
        for s, e in zip(seeds, E):
            dev = np.abs(e[ok] - exact[ok]) / np.abs(exact[ok])
            at = np.interp(grid_g[below], G[::-1], e[::-1])          # the run at the grid's Gamma (G decreases)
            dev_past = np.abs(at - grid_e[below]) / np.abs(grid_e[below]) if below.any() else np.array([np.nan])
            sm = summaries[f"vqa_L{L}_s{s}"]
            per_run.append((L, s, sm["energy_per_spin_mean"], sm["ground_state_fraction"], np.median(dev), dev.max(),
                            G[ok][np.argmax(dev)], np.nanmax(dev_past)))
    ex.write_csv("", ["L", "gamma", "E_median", "E_min", "E_max", "e0_exact"], rows)
    ex.write_csv("_exact", ["L", "gamma", "e0_exact"], exact_rows)
    ex.write_csv("_runs", ["L", "seed", "final_energy_per_spin", "ground_state_fraction", "median_rel_dev_e0",
                           "max_rel_dev_e0", "gamma_at_max_dev", "max_rel_dev_below_self_dual"], per_run)

    fig = figure((10, 4.2))
    for k, L in enumerate(SIZES):
        G, E, exact, grid, curve = curves[L]
        ax = fig.add_subplot(1, 2, k + 1)
        ins = ax.inset_axes([0.5, 0.5, 0.46, 0.44])
        for target, keep, gkeep in ((ax, slice(None), slice(None)), (ins, G <= INSET_GAMMA, grid <= INSET_GAMMA)):
            target.fill_between(G[keep], E.min(0)[keep], E.max(0)[keep], color="k", alpha=0.2, lw=0)
            target.plot(G[keep], np.median(E, 0)[keep], "k", lw=0.9, label=f"VQA (median, min–max of {len(E)})")
            target.plot(grid[gkeep], curve[gkeep], "r--", lw=1.1, label="exact e0 (Lanczos)")
            target.axvline(0.5, color="0.5", lw=0.6, ls=":")
            target.invert_xaxis()
        ax.set_xlabel("transverse field Γ (J = 1)")
        ax.set_ylabel("energy per spin E / N")
        ax.set_title(f"L = {L}", fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
        ins.set_xlabel("Γ  (dotted: self-dual point J/2)", fontsize=6)
        ins.tick_params(labelsize=6)
    fig.tight_layout()
    ex.save(fig)
    for r in per_run:
        print(f"L={r[0]} seed={r[1]}: final E/N {r[2]:+.4f}, ground-state fraction {r[3]:.3f}, deviation from e0 "
              f"median {r[4]:.3%} max {r[5]:.2%} at Γ={r[6]:.3g}; max below Γ=J/2 {r[7]:.2%}")
    ex.finish()


if __name__ == "__main__":
    main()
