"""Fig. 3: VQA variational energy per spin against the exact quantum ground energy e0(Gamma), over seeds.

    python experiments/fig3_vqa_energy.py --preset quick
    python experiments/fig3_vqa_energy.py --preset paper   # Table I, 5 seeds per size

L = 3 and 5 (exact Lanczos in the zero-momentum sector on a dense grid: every 0.025 below Gamma = 1, where the
fractal transition sits near the self-dual point Gamma = J/2, and every 0.25 up to Gamma0 = 10): every seed's
variational E/N (top: the whole anneal; bottom: Gamma <= 1). Writes fig3.{png,pdf}, fig3.csv (L, Gamma,
median/min/max variational E/N, the runs' own exact e0/N where they computed it), fig3_exact.csv (the dense exact
grid) and fig3_runs.csv (per seed: final energy, ground-state fraction, the median and largest deviation from e0
over the dense grid (the run interpolated to the grid's Gamma) and where the largest one is, and the largest
below Gamma = J/2).
"""

import numpy as np
from common import Experiment, figure, parser, seed_curves

SIZES = (3, 5)
SEEDS = {"quick": 2, "paper": 5}
ZOOM_GAMMA = 1.0    # the lower panels show Gamma <= 1: the self-dual point J/2 and below


def exact_grid(gamma0: float, quick: bool) -> np.ndarray:
    """Where e0(Gamma) is computed: dense near the transition, coarser up to Gamma0 (seconds per point at L = 5)."""
    fine = np.linspace(0.0, ZOOM_GAMMA, 11 if quick else 41)
    coarse = np.arange(ZOOM_GAMMA, gamma0 + 1e-9, 1.0 if quick else 0.25)
    return np.unique(np.concatenate([fine, coarse, [gamma0]]))


def cached_exact(path) -> dict:
    """``{(L, Gamma): e0}`` from an earlier run's fig3_exact.csv (Lanczos at L = 5 takes seconds per point)."""
    import csv

    if not path.exists():
        return {}
    with path.open() as fh:
        return {(int(r["L"]), round(float(r["gamma"]), 9)): float(r["e0_exact"]) for r in csv.DictReader(fh)}


def main():
    args = parser(__doc__).parse_args()
    ex = Experiment(args, "fig3")
    from nm_tf.exact import quantum_ground_energy

    seeds = range(SEEDS[args.preset])
    summaries = ex.run_all(ex.standard("vqa", L, s) for L in SIZES for s in seeds)
    curves, rows, per_run, exact_rows = {}, [], [], []
    known = cached_exact(ex.path("_exact.csv"))
    for L in SIZES:
        rows0, E = seed_curves(ex, "vqa", L, seeds)
        G = np.array([r.gamma for r in rows0])
        exact = np.array([np.nan if r.exact_per_spin is None else r.exact_per_spin for r in rows0])
        grid = exact_grid(float(G.max()), args.preset == "quick")
        curve = np.array([known.get((L, round(float(g), 9))) or quantum_ground_energy(L, g) for g in grid])
        curves[L] = (G, E, grid, curve)
        rows += [(L, g, m, lo, hi, "" if np.isnan(x) else x)
                 for g, m, lo, hi, x in zip(G, np.median(E, 0), E.min(0), E.max(0), exact)]
        exact_rows += [(L, g, e0) for g, e0 in zip(grid, curve)]
        inside = (grid >= G.min()) & (grid <= G.max())
        below = inside & (grid < 0.5)
        for s, e in zip(seeds, E):
            at = np.interp(grid[inside], G[::-1], e[::-1])          # the run at the grid's Gamma (G decreases)
            dev = np.abs(at - curve[inside]) / np.abs(curve[inside])
            at_below = np.interp(grid[below], G[::-1], e[::-1])
            dev_below = np.abs(at_below - curve[below]) / np.abs(curve[below]) if below.any() else [np.nan]
            sm = summaries[f"vqa_L{L}_s{s}"]
            per_run.append((L, s, sm["energy_per_spin_mean"], sm["ground_state_fraction"], np.median(dev), dev.max(),
                            grid[inside][np.argmax(dev)], np.nanmax(dev_below)))
    ex.write_csv("", ["L", "gamma", "E_median", "E_min", "E_max", "e0_exact"], rows)
    ex.write_csv("_exact", ["L", "gamma", "e0_exact"], exact_rows)
    ex.write_csv("_runs", ["L", "seed", "final_energy_per_spin", "ground_state_fraction", "median_rel_dev_e0_grid",
                           "max_rel_dev_e0_grid", "gamma_at_max_dev", "max_rel_dev_below_self_dual"], per_run)

    fig = figure((11, 8))
    for k, L in enumerate(SIZES):
        G, E, grid, curve = curves[L]
        for row, keep, gkeep in ((0, slice(None), slice(None)), (1, G <= ZOOM_GAMMA, grid <= ZOOM_GAMMA)):
            ax = fig.add_subplot(2, 2, k + 1 + 2 * row)
            for j, e in enumerate(E):
                ax.plot(G[keep], e[keep], color="C0", lw=0.7, alpha=0.75,
                        label=f"VQA, {len(E)} seeds" if j == 0 else None)
            ax.plot(grid[gkeep], curve[gkeep], "k--", lw=1.0, label="exact e0 (Lanczos)")
            ax.axvline(0.5, color="0.5", lw=0.6, ls=":")
            ax.invert_xaxis()
            ax.set_xlabel("transverse field Γ (J = 1)" + ("; dotted: self-dual point J/2" if row else ""))
            ax.set_ylabel("energy per spin E / N")
            ax.set_title(f"L = {L}" + (f", Γ ≤ {ZOOM_GAMMA:g}" if row else ": the whole anneal"), fontsize=9)
            ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    ex.save(fig)
    for r in per_run:
        print(f"L={r[0]} seed={r[1]}: final E/N {r[2]:+.4f}, ground-state fraction {r[3]:.3f}, deviation from e0 "
              f"median {r[4]:.3%} max {r[5]:.2%} at Γ={r[6]:.3g}; max below Γ=J/2 {r[7]:.2%}")
    ex.finish()


if __name__ == "__main__":
    main()
