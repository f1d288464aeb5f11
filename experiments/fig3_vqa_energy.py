"""Fig. 3: VQA variational energy per spin against the exact quantum ground energy e0(Gamma).

    python experiments/fig3_vqa_energy.py --preset quick
    python experiments/fig3_vqa_energy.py --preset paper

L = 3 and 5 (exact Lanczos in the zero-momentum sector), with insets at small Gamma.
Writes fig3.png and fig3.csv (L, Gamma, variational E/N, exact e0/N where computed).
"""

from pathlib import Path

import numpy as np
from common import figure, history, parser, protocol, run, setup, write_csv

SIZES = (3, 5)
INSET_GAMMA = 1.0


def main():
    args = parser(__doc__, "fig3").parse_args()
    setup()
    from nm_tf.exact import quantum_ground_energy

    out = Path(args.out)
    rows, curves = [], {}
    for L in SIZES:
        name = f"vqa_L{L}"
        run(out, name, args.quiet, mode="vqa", L=L, gamma0=10.0, seed=0, final_samples=10_000, exact_points=11,
            **protocol(args.preset))
        hist = [r for r in history(out, name) if r["phase"] == "anneal"]
        G = np.array([float(r["gamma"]) for r in hist])
        E = np.array([float(r["loss_per_spin"]) for r in hist])
        ex = np.array([float(r["exact_per_spin"]) if r["exact_per_spin"] else np.nan for r in hist])
        if L <= 4:   # cheap: a dense exact curve
            grid = np.union1d(np.linspace(0, 10, 41), np.linspace(0, INSET_GAMMA, 11))
            curve = np.array([quantum_ground_energy(L, g) for g in grid])
        else:        # seconds per point: the run's exact values plus a few for the inset
            small = np.linspace(0, INSET_GAMMA, 6)
            grid = np.concatenate([G[~np.isnan(ex)], small])
            curve = np.concatenate([ex[~np.isnan(ex)], [quantum_ground_energy(L, g) for g in small]])
            grid, idx = np.unique(grid, return_index=True)
            curve = curve[idx]
        curves[L] = (G, E, ex, grid, curve)
        rows += [(L, g, e, "" if np.isnan(x) else x) for g, e, x in zip(G, E, ex)]
    write_csv(out / "fig3.csv", ["L", "gamma", "E_variational", "e0_exact"], rows)

    fig = figure((9, 3.6))
    for k, L in enumerate(SIZES):
        G, E, ex, grid, curve = curves[L]
        ax = fig.add_subplot(1, 2, k + 1)
        ax.plot(G, E, lw=0.8, label="VQA")
        ax.plot(grid, curve, "r--", lw=1.2, label="exact e0")
        ax.invert_xaxis()
        ax.set_xlabel("Γ")
        ax.set_ylabel("E / N")
        ax.set_title(f"L={L}", fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
        ins = ax.inset_axes([0.55, 0.55, 0.4, 0.4])
        small = G <= INSET_GAMMA
        ins.plot(G[small], E[small], lw=0.8)
        ins.plot(grid[grid <= INSET_GAMMA], curve[grid <= INSET_GAMMA], "r.--", lw=1, ms=3)
        ins.invert_xaxis()
        ins.tick_params(labelsize=6)
        ok = ~np.isnan(ex)
        if ok.any():
            dev = np.abs(E[ok] - ex[ok]) / np.abs(ex[ok])
            print(f"L={L}: median |E - e0|/|e0| = {np.median(dev):.3%}, max {dev.max():.3%} over {ok.sum()} "
                  f"exact points; final E/N = {E[-1]:.4f} (exact -0.5)")
    fig.tight_layout()
    fig.savefig(out / "fig3.png")
    print(f"wrote {out / 'fig3.png'} and {out / 'fig3.csv'}")


if __name__ == "__main__":
    main()
