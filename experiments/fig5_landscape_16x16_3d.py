"""Fig. 5: 3D free-energy landscapes of 16 x 16 VCA at the four snapshots, two planes side by side.

    python experiments/fig5_landscape_16x16_3d.py --preset quick   # 31 x 31 grids
    python experiments/fig5_landscape_16x16_3d.py --preset paper   # 200 x 200, Table I

Top row: the paper's plane, unnormalised N(0, 1) directions (seed 0). With float32 the perturbed
16 x 16 RNN overflows beyond |alpha|, |beta| ~ 0.2 (the hidden state grows over 256 sites), so the
in-run scans use span 0.15. The authors' code computes in float64: this script also rescans the
unnormalised plane at span 1 in float64 from the snapshot weights, counts its non-finite points,
and draws it instead when it is finite everywhere. Bottom row: filter-normalised directions
(Li et al. 2018) at span 1, where a unit step changes every unit's weights by their own norm.
Writes fig5.{png,pdf}, fig5.csv and the extra scans in OUT/fig5_scans/ (commit them beside the figure:
the plateau areas quoted in the README are measured on them).
"""

import numpy as np
from common import SNAPSHOTS, Experiment, figure, parser

from nm_tf.landscape.scan import LandscapeSpec, roughness


def rescan(ex, run, tag: str, *, span: float, normalization: str, dtype: str, points: int) -> dict:
    """Scan a plane around the snapshot weights ``weights_<tag>.npz`` (resumable, cached)."""
    from nm_tf.landscape.directions import plane
    from nm_tf.landscape.evaluate import PlaneLoss
    from nm_tf.landscape.scan import scan_plane
    from nm_tf.models import NewmanMooreRNN
    from nm_tf.progress import Progress

    out = ex.out / "fig5_scans" / f"{tag}_{normalization}_span{span:g}_{dtype}.npz"
    if out.exists():
        with np.load(out) as f:
            return dict(f)
    cfg = run.config()
    with np.load(run.landscape / f"weights_{tag}.npz") as f:
        w = dict(f)
    T, gamma, step = float(w.pop("T")), float(w.pop("gamma")), int(w.pop("step"))
    model = NewmanMooreRNN(cfg.L, hidden=cfg.hidden, cell=cfg.cell, ordering=cfg.ordering, dtype=dtype)
    spec = LandscapeSpec(points=points, span=span, samples=cfg.samples, seed=0, normalization=normalization)
    delta, eta = plane(w, spec.seed, normalization, False, path=run.landscape / "directions_seed0.npz")
    return scan_plane(PlaneLoss(model, quantum=False, J=cfg.J), w, delta, eta, spec, T=T, gamma=gamma, out=out,
                      meta={"mode": "vca", "tag": tag, "step": step, "L": cfg.L, "dtype": dtype},
                      progress=Progress(points * points, label=f"{tag} {normalization} span {span:g} {dtype} "))


def surface(fig, pos, d, title):
    ax = fig.add_subplot(2, 4, pos, projection="3d")
    a, b = np.meshgrid(d["alpha"], d["beta"], indexing="ij")
    ax.plot_surface(a, b, np.ma.masked_invalid(d["loss"]), cmap="viridis", linewidth=0, antialiased=False)
    bad = int(d["nonfinite_points"])
    if bad:        # NaN/inf points are left out of the surface; say how many
        title += f"\n{bad} of {d['loss'].size} points non-finite (not drawn)"
    ax.set_title(title, fontsize=10)
    from matplotlib.ticker import MaxNLocator

    # few ticks, large enough to read at the README's width: the plane's edges and centre, four on F / N
    for axis, values in ((ax.xaxis, d["alpha"]), (ax.yaxis, d["beta"])):
        axis.set_ticks([float(values[0]), 0.0, float(values[-1])])
    ax.zaxis.set_major_locator(MaxNLocator(4))
    ax.set_xlabel("α", fontsize=10, labelpad=0)
    ax.set_ylabel("β", fontsize=10, labelpad=0)
    ax.set_zlabel("F / N", fontsize=10, labelpad=2)
    ax.tick_params(labelsize=8.5, pad=0)


def main():
    args = parser(__doc__).parse_args()
    ex = Experiment(args, "fig5")
    ex.run_all([ex.standard("vca", 16, 0)])
    run = ex.rundir("vca_L16_s0")
    points = run.config().landscape_points
    rows, top, bottom = [], {}, {}
    for tag in SNAPSHOTS:
        with np.load(run.landscape_file(tag)) as f:
            inrun = dict(f)
        f64 = rescan(ex, run, tag, span=1.0, normalization="none", dtype="float64", points=points)
        filt = rescan(ex, run, tag, span=1.0, normalization="filter", dtype="float32", points=points)
        for label, d in (("none span 0.15 float32 (in run)", inrun), ("none span 1 float64", f64),
                         ("filter span 1 float32", filt)):
            loss = d["loss"]
            rows.append((tag, label, float(d["T"]), float(d["center_loss"]), np.nanmin(loss), np.nanmax(loss),
                         roughness(loss), int(d["nonfinite_points"]), loss.size))
        top[tag] = (f64, "unnormalised, span 1, float64") if int(f64["nonfinite_points"]) == 0 else \
            (inrun, "unnormalised, span 0.15, float32")
        bottom[tag] = (filt, "filter-normalised, span 1")
    ex.write_csv("", ["tag", "plane", "T", "center_loss", "min", "max", "roughness", "nonfinite_points", "points"],
                 rows)
    fig = figure((14, 7))
    for k, tag in enumerate(SNAPSHOTS):
        for row, (d, what) in enumerate((top[tag], bottom[tag])):
            surface(fig, 4 * row + k + 1, d, f"{tag.replace('_', ' ')}, T = {float(d['T']):.3g}\n{what}")
    fig.tight_layout()
    ex.save(fig)
    for r in rows:
        print(f"{r[0]:>14} {r[1]:<32}: T={r[2]:.3g} centre {r[3]:+.4f} range [{r[4]:+.4f}, {r[5]:+.4f}] "
              f"roughness {r[6]:.4f}, {r[7]} of {r[8]} non-finite")
    ex.finish()


if __name__ == "__main__":
    main()
