"""Fig. 2: VCA free energy per spin along the anneal against the exact F(T)/N.

    python experiments/fig2_vca_free_energy.py --preset quick   # minutes on 2 cores
    python experiments/fig2_vca_free_energy.py --preset paper   # Table I protocol (hours)

Panel (a): non-degenerate sizes L = 5, 16; panel (b): degenerate L = 3, 6. The
exact curve is computed for every L (GF(2) dual-code enumeration), not only 2^k.
Writes fig2.png and fig2.csv (L, annealing step, T, variational F/N, exact F/N).
"""

from pathlib import Path

import numpy as np
from common import figure, history, parser, protocol, run, setup, write_csv

PANELS = {"a": (5, 16), "b": (3, 6)}


def main():
    args = parser(__doc__, "fig2").parse_args()
    setup()
    from nm_tf.exact import thermodynamics

    out = Path(args.out)
    rows, curves = [], {}
    for L in PANELS["a"] + PANELS["b"]:
        name = f"vca_L{L}"
        run(out, name, args.quiet, mode="vca", L=L, T0=10.0, seed=0, final_samples=10_000,
            **protocol(args.preset))
        hist = [r for r in history(out, name) if r["phase"] == "anneal"]
        T = np.array([float(r["T"]) for r in hist])
        F = np.array([float(r["loss_per_spin"]) for r in hist])
        exact = np.array([-0.5 if t == 0 else thermodynamics(L, t)["free_energy"] for t in T])
        curves[L] = (T, F, exact)
        rows += [(L, r["annealing_step"], t, f, e) for r, t, f, e in zip(hist, T, F, exact)]
    write_csv(out / "fig2.csv", ["L", "annealing_step", "T", "F_variational", "F_exact"], rows)

    fig = figure((9, 3.6))
    for k, (panel, sizes) in enumerate(PANELS.items()):
        ax = fig.add_subplot(1, 2, k + 1)
        for L in sizes:
            T, F, exact = curves[L]
            ax.plot(T, F, lw=0.8, label=f"VCA L={L}")
            ax.plot(T, exact, "--", lw=1.2, label=f"exact L={L}")
        ax.invert_xaxis()
        ax.set_xlabel("T")
        ax.set_ylabel("F / N")
        ax.set_title(f"({panel}) {'non-degenerate' if panel == 'a' else 'degenerate'} sizes", fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
        ins = ax.inset_axes([0.58, 0.12, 0.38, 0.38])      # the low-temperature end, where VCA struggles
        for L in sizes:
            T, F, exact = curves[L]
            low = T <= 1.5
            ins.plot(T[low], F[low], lw=0.8)
            ins.plot(T[low], exact[low], "--", lw=1)
        ins.invert_xaxis()
        ins.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(out / "fig2.png")
    for L, (T, F, exact) in curves.items():
        dev = np.abs(F - exact) / np.abs(exact)
        print(f"L={L}: median |F - F_exact|/|F_exact| = {np.median(dev):.3%}, max {dev.max():.3%}, "
              f"final F/N = {F[-1]:.4f} (exact {exact[-1]:.4f})")
    print(f"wrote {out / 'fig2.png'} and {out / 'fig2.csv'}")


if __name__ == "__main__":
    main()
