"""Fig. 5: 3D free-energy landscapes of 16 x 16 VCA at the four snapshots.

    python experiments/fig5_landscape_16x16_3d.py --preset quick   # 31 x 31 grids
    python experiments/fig5_landscape_16x16_3d.py --preset paper   # 200 x 200, Table I

Span: alpha, beta in [-0.15, 0.15] (``--span``). With the paper's unnormalised N(0, 1) directions
the perturbed 16 x 16 RNN overflows float32 beyond |alpha|, |beta| ~ 0.2 (the hidden state grows
geometrically over 256 sites), so a span of 1 shows mostly NaN; see experiments/README.md.
Writes fig5.png and fig5.csv (tag, T, centre loss, min, max, roughness, non-finite points).
"""

from pathlib import Path

import numpy as np
from common import figure, parser, protocol, run, setup, write_csv
from fig4_landscapes_5x5 import landscape_fields

from nm_tf.annealing.config import SNAPSHOT_TAGS
from nm_tf.landscape.scan import roughness


def main():
    p = parser(__doc__, "fig5")
    p.add_argument("--span", type=float, default=0.15)
    args = p.parse_args()
    setup()
    from nm_tf.landscape.snapshots import LandscapeCallback

    out = Path(args.out)
    points = 200 if args.preset == "paper" else 31
    name = "vca_L16"
    run(out, name, args.quiet, callbacks=[LandscapeCallback(SNAPSHOT_TAGS, quiet=args.quiet)], mode="vca", L=16,
        seed=0, final_samples=10_000, **{**landscape_fields(points), "landscape_span": args.span},
        **protocol(args.preset))
    fig = figure((13, 3.6))
    rows = []
    for k, tag in enumerate(SNAPSHOT_TAGS):
        d = np.load(out / "runs" / name / "landscape" / f"landscape_{tag}.npz")
        a, b = np.meshgrid(d["alpha"], d["beta"], indexing="ij")
        loss = d["loss"]
        ax = fig.add_subplot(1, 4, k + 1, projection="3d")
        ax.plot_surface(a, b, loss, cmap="viridis", linewidth=0, antialiased=False)
        ax.set_title(f"{tag.replace('_', ' ')}  T={float(d['T']):.3g}", fontsize=8)
        ax.tick_params(labelsize=5)
        rough = roughness(loss)
        rows.append((tag, float(d["T"]), float(d["center_loss"]), np.nanmin(loss), np.nanmax(loss), rough,
                     int(d["nonfinite_points"])))
    fig.tight_layout()
    fig.savefig(out / "fig5.png")
    write_csv(out / "fig5.csv", ["tag", "T", "center_loss", "min", "max", "roughness", "nonfinite_points"], rows)
    for r in rows:
        print(f"{r[0]:>14}: T={r[1]:.3g} centre {r[2]:+.4f} range [{r[3]:+.4f}, {r[4]:+.4f}] "
              f"roughness {r[5]:.4f}, {r[6]} non-finite")
    print(f"wrote {out / 'fig5.png'} and {out / 'fig5.csv'}")


if __name__ == "__main__":
    main()
