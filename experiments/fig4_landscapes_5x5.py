"""Fig. 4: loss landscapes of 5 x 5 VCA and VQA at the paper's snapshots, rescaled to [-1, 1].

    python experiments/fig4_landscapes_5x5.py --preset quick   # 41 x 41 grids
    python experiments/fig4_landscapes_5x5.py --preset paper   # 200 x 200 grids, Table I anneals

Snapshots: before warm-up, after warm-up, mid-annealing, end of annealing, on the same
random plane (direction seed 0, N(0, 1) entries, no normalisation), fresh samples at
every grid point (Algorithm 2). Writes fig4.png and fig4.csv (mode, tag, T, Gamma,
centre loss, min, max, roughness = mean |difference| between neighbouring points).
"""

from pathlib import Path

import numpy as np
from common import figure, parser, protocol, run, setup, write_csv

from nm_tf.annealing.config import SNAPSHOT_TAGS
from nm_tf.landscape.scan import roughness


def landscape_fields(points: int) -> dict:
    return dict(landscape=SNAPSHOT_TAGS, landscape_points=points, landscape_span=1.0, landscape_seed=0)


def panel_row(fig, rows, row, data_by_tag, label):
    from nm_tf.landscape.plots import rescale

    for k, tag in enumerate(SNAPSHOT_TAGS):
        d = data_by_tag[tag]
        ax = fig.add_subplot(rows, 4, 4 * row + k + 1)
        a = d["alpha"]
        im = ax.imshow(rescale(d["loss"]).T, origin="lower", extent=(a[0], a[-1], a[0], a[-1]), cmap="viridis",
                       vmin=-1, vmax=1)
        ax.set_title(f"{label} {tag.replace('_', ' ')}\nT={float(d['T']):.3g} Γ={float(d['gamma']):.3g}",
                     fontsize=8)
        ax.tick_params(labelsize=6)
    return im


def main():
    p = parser(__doc__, "fig4")
    args = p.parse_args()
    setup()
    from nm_tf.landscape.snapshots import LandscapeCallback

    out = Path(args.out)
    points = 200 if args.preset == "paper" else 41
    data, rows = {}, []
    for mode in ("vca", "vqa"):
        name = f"{mode}_L5"
        fields = dict(mode=mode, L=5, seed=0, final_samples=10_000, exact_points=11, **landscape_fields(points),
                      **protocol(args.preset))
        run(out, name, args.quiet, callbacks=[LandscapeCallback(SNAPSHOT_TAGS, quiet=args.quiet)], **fields)
        data[mode] = {}
        for tag in SNAPSHOT_TAGS:
            d = dict(np.load(out / "runs" / name / "landscape" / f"landscape_{tag}.npz"))
            data[mode][tag] = d
            loss = d["loss"]
            rough = roughness(loss)
            rows.append((mode, tag, float(d["T"]), float(d["gamma"]), float(d["center_loss"]), np.nanmin(loss),
                         np.nanmax(loss), rough))
    write_csv(out / "fig4.csv", ["mode", "tag", "T", "gamma", "center_loss", "min", "max", "roughness"], rows)
    fig = figure((11.6, 5.8))
    panel_row(fig, 2, 0, data["vca"], "VCA")
    im = panel_row(fig, 2, 1, data["vqa"], "VQA")
    fig.tight_layout(rect=(0, 0, 0.91, 1))
    cax = fig.add_axes([0.92, 0.15, 0.013, 0.7])
    fig.colorbar(im, cax=cax, label="rescaled loss")
    fig.savefig(out / "fig4.png")
    for r in rows:
        print(f"{r[0]} {r[1]:>14}: T={r[2]:.3g} Γ={r[3]:.3g} centre {r[4]:+.4f} range [{r[5]:+.4f}, {r[6]:+.4f}] "
              f"roughness {r[7]:.4f}")
    print(f"wrote {out / 'fig4.png'} and {out / 'fig4.csv'}")


if __name__ == "__main__":
    main()
