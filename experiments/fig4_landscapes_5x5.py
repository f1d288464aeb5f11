"""Fig. 4: loss landscapes of 5 x 5 VCA and VQA at the paper's snapshots, rescaled to [-1, 1].

    python experiments/fig4_landscapes_5x5.py --preset quick   # 31 x 31 grids
    python experiments/fig4_landscapes_5x5.py --preset paper   # 200 x 200 grids, Table I anneals

Snapshots of the Table I runs at L = 5 (rows): VCA seed 0, VQA seed 1 (it ends in the ground state, as the paper's
Fig. 4b run) and VQA seed 0 (it ends in excited states: its end landscape shows what failure looks like): before
warm-up, after warm-up, mid-annealing, end of annealing, on one random plane (direction seed 0, N(0, 1) entries, no
normalisation, span 1), fresh samples at every grid point (Algorithm 2). Colours: the loss rescaled to [-1, 1]
between its 0.5th and 99.5th percentiles (values beyond are clipped; the CSV keeps the raw range). Writes
fig4.{png,pdf} and fig4.csv (mode, tag, T, Gamma, centre loss, min, max, roughness = mean |difference| between
neighbours, non-finite points).
"""

import numpy as np
from common import SNAPSHOTS, Experiment, figure, parser

from nm_tf.landscape.plots import rescale
from nm_tf.landscape.scan import roughness

CLIP_PERCENTILES = (0.5, 99.5)


def robust_rescale(loss):
    """Rescale to [-1, 1] between the 0.5th and 99.5th percentiles, clipping beyond them. The VQA local
    energy has a heavy tail (sqrt(p(s^i)/p(s)) of a rare sample), so a handful of grid points can lie
    orders of magnitude below the rest and would flatten a min-max colour scale."""
    lo, hi = np.nanpercentile(loss, CLIP_PERCENTILES)
    return rescale(np.clip(loss, lo, hi))


ROWS = (("vca", 0, "VCA F/N"), ("vqa", 1, "VQA E/N, seed 1"), ("vqa", 0, "VQA E/N, seed 0"))


def panel_row(fig, row, data_by_tag, label):
    for k, tag in enumerate(SNAPSHOTS):
        d = data_by_tag[tag]
        ax = fig.add_subplot(len(ROWS), 4, 4 * row + k + 1)
        a, b = d["alpha"], d["beta"]
        im = ax.imshow(robust_rescale(d["loss"]).T, origin="lower", extent=(a[0], a[-1], b[0], b[-1]), cmap="viridis",
                       vmin=-1, vmax=1)
        ax.set_title(f"{label}, {tag.replace('_', ' ')}\nT = {float(d['T']):.3g}, Γ = {float(d['gamma']):.3g}",
                     fontsize=8)
        ax.set_xticks([-1, 0, 1])
        ax.set_yticks([-1, 0, 1])
        ax.tick_params(labelsize=7)
        ax.set_xlabel("α", fontsize=8)
        if k == 0:
            ax.set_ylabel("β", fontsize=8)
    return im


def main():
    args = parser(__doc__).parse_args()
    ex = Experiment(args, "fig4")
    summaries = ex.run_all([ex.standard(mode, 5, seed) for mode, seed, _ in ROWS])
    data, rows = {}, []
    for mode, seed, _ in ROWS:
        run = ex.rundir(f"{mode}_L5_s{seed}")
        data[mode, seed] = {}
        for tag in SNAPSHOTS:
            with np.load(run.landscape_file(tag)) as f:
                d = dict(f)
            data[mode, seed][tag] = d
            loss = d["loss"]
            rows.append((mode, seed, tag, float(d["T"]), float(d["gamma"]), float(d["center_loss"]), np.nanmin(loss),
                         np.nanmax(loss), roughness(loss), int(d["nonfinite_points"]),
                         *np.nanpercentile(loss, CLIP_PERCENTILES)))
    ex.write_csv("", ["mode", "seed", "tag", "T", "gamma", "center_loss", "min", "max", "roughness",
                      "nonfinite_points", "p0.5", "p99.5"], rows)
    fig = figure((12, 9.4))
    for row, (mode, seed, label) in enumerate(ROWS):
        ended = summaries[f"{mode}_L5_s{seed}"]["ground_state_in_final_sample"]
        im = panel_row(fig, row, data[mode, seed], label + (" (ends in E0)" if ended else " (ends excited)"))
    fig.tight_layout(rect=(0, 0, 0.92, 1))
    fig.colorbar(im, cax=fig.add_axes([0.93, 0.15, 0.012, 0.7]),
                 label="loss rescaled to [−1, 1] (0.5–99.5 percentile range)")
    ex.save(fig)
    for r in rows:
        print(f"{r[0]} s{r[1]} {r[2]:>14}: T={r[3]:.3g} Γ={r[4]:.3g} centre {r[5]:+.4f} range [{r[6]:+.4f}, "
              f"{r[7]:+.4f}] roughness {r[8]:.4f}, {r[9]} non-finite")
    ex.finish()


if __name__ == "__main__":
    main()
