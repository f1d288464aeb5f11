"""Representability: can p_theta be uniform over every ground state? (issues 27 and 33)

    python experiments/representability.py --preset paper --out ~/nm-paper    # L = 6, 7, 9, 12; both cells, orderings
    python experiments/representability.py --preset quick                     # L = 3, 6; short fits
    python experiments/representability.py --preset paper --out ~/nm-paper --sizes 12 --seeds 1   # part of the grid

Fits a fresh network (d_h = 40) by maximum likelihood to the exact ground-state set, full batch, with
:func:`nm_tf.representability.fit_uniform_ground_states`, for the vanilla and the triangle cell and the zigzag
(paper's text) and raster-wrap (authors' code) orderings, and reports the exact KL(u || p_theta) from the uniform
distribution over the D ground states, its row-by-row terms (row 0: the choice among ground states; rows >= 1:
the triangle rule), the ground-state mass and the effective number of ground states. If the network reaches
KL ~ 0 the collapse seen in the anneals is a training phenomenon, not a limit of the ansatz. A fit is Adam with
its learning rate cosine-decayed from 1e-3 to 0 over 60 000 full-batch steps, stopped early when KL < 1e-3 nats.

Each fit is kept in OUT/representability/<cell>_<ordering>_L<L>_s<seed>/ (fit.json: configuration and result;
history.csv; model.weights.h5) and reused when it is there; a fit in progress keeps checkpoints there every 2 000
steps and continues from them when the script is run again. Writes representability.csv, .png/.pdf.
"""

import csv
import dataclasses
import json
import shutil
import sys

import numpy as np
from common import Experiment, figure, parser

GRID = {"paper": dict(sizes={6: 3, 7: 3, 9: 3, 12: 2}, max_steps=60_000),
        "quick": dict(sizes={3: 1, 6: 1}, max_steps=2_000)}
CELLS = ("vanilla", "triangle")
ORDERINGS = ("zigzag", "raster-wrap")


def fit_dir(ex, cell, ordering, L, seed):
    return ex.out / "representability" / f"{cell}_{ordering}_L{L}_s{seed}"


def run_fit(ex, cell, ordering, L, seed, max_steps):
    """The fit's result (from its folder when finished, else fitted now and written there)."""
    from nm_tf.provenance import code_commit
    from nm_tf.representability import FitConfig, fit_uniform_ground_states

    path = fit_dir(ex, cell, ordering, L, seed)
    done = path / "fit.json"
    if done.exists():
        return json.loads(done.read_text())["result"]
    if ex.finished_only:
        ex.pending.append(path.name)
        return None
    cfg = FitConfig(L=L, cell=cell, ordering=ordering, seed=seed, max_steps=max_steps)
    print(f"{path.name}: fitting", flush=True)

    def progress(i, kl):
        if i % 2000 == 0:
            print(f"  {path.name} step {i}: KL {kl:.4f}", flush=True)

    path.mkdir(parents=True, exist_ok=True)
    checkpoints = path / "checkpoints"      # an interrupted fit continues from here; removed when it finishes
    model, history, result = fit_uniform_ground_states(cfg, progress=progress, checkpoint_dir=checkpoints)
    model.save_weights(str(path / "model.weights.h5"))
    with (path / "history.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "kl_to_uniform", "seconds", "lr"])
        w.writerows(history)
    result = {k: (v.item() if hasattr(v, "item") else v) for k, v in result.items()}
    tmp = path / "fit.json.tmp"      # written last: its presence marks a finished fit
    tmp.write_text(json.dumps({"config": dataclasses.asdict(cfg), "result": result, "code_commit": code_commit(),
                               "command": " ".join(sys.argv)}, indent=1) + "\n")
    tmp.replace(done)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return result


def main():
    p = parser(__doc__)
    p.add_argument("--sizes", default=None,
                   help="comma-separated L to fit (default: the preset's); two processes can split a grid")
    p.add_argument("--seeds", default=None, help="comma-separated seeds to fit (default: the preset's)")
    args = p.parse_args()
    ex = Experiment(args, "representability")
    grid = GRID[args.preset]
    rows = []
    sizes = grid["sizes"]
    if args.sizes:
        wanted = [int(v) for v in args.sizes.split(",")]
        unknown = sorted(set(wanted) - set(sizes))
        if unknown:
            p.error(f"--sizes: {unknown} not in the {args.preset} grid {sorted(sizes)}")
        sizes = {L: n for L, n in sizes.items() if L in wanted}
    only_seeds = {int(v) for v in args.seeds.split(",")} if args.seeds else None
    for L, seeds in sizes.items():
        for seed in (s for s in range(seeds) if only_seeds is None or s in only_seeds):
            for cell in CELLS:
                for ordering in ORDERINGS:
                    r = run_fit(ex, cell, ordering, L, seed, grid["max_steps"])
                    if r is None:
                        continue
                    rows.append([cell, ordering, L, seed, r["degeneracy"], r["kl_to_uniform"], r["row_kl"][0],
                                 sum(r["row_kl"][1:]), r["ground_state_mass"], r["effective_ground_states"],
                                 r["min_ratio"], r["steps"], r["stopped"], r["wall_seconds"]])
                    print(f"{cell:>8} {ordering:>11} L={L:>2} s{seed}: KL {r['kl_to_uniform']:.4f} (row 0 "
                          f"{r['row_kl'][0]:.4f}, rows >= 1 {sum(r['row_kl'][1:]):.4f}), mass "
                          f"{r['ground_state_mass']:.4f}, effective {r['effective_ground_states']:.2f}/"
                          f"{r['degeneracy']}, {r['steps']} steps ({r['stopped']}), "
                          f"{r['wall_seconds']:.0f} s",
                          flush=True)
    ex.write_csv("", ["cell", "ordering", "L", "seed", "degeneracy", "kl_to_uniform", "kl_row0", "kl_rows_after",
                      "ground_state_mass", "effective_ground_states", "min_ratio", "steps", "stopped",
                      "wall_seconds"], rows)
    if rows:
        _figure(ex, rows, grid["max_steps"])
    print("\n| cell | ordering | L | D | fits | KL to uniform (mean, max) | row 0 / rows ≥ 1 (mean) | ground-state "
          "mass (min) | effective GS (min) | min p / mean p (min) | steps (min–max) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for cell in CELLS:
        for ordering in ORDERINGS:
            for L in sizes:
                sel = [r for r in rows if r[:3] == [cell, ordering, L]]
                if sel:
                    kl = [r[5] for r in sel]
                    print(f"| {cell} | {ordering} | {L} | {sel[0][4]} | {len(sel)} | {np.mean(kl):.4f}, {max(kl):.4f} "
                          f"| {np.mean([r[6] for r in sel]):.4f} / {np.mean([r[7] for r in sel]):.4f} | "
                          f"{min(r[8] for r in sel):.3f} | {min(r[9] for r in sel):.2f} | "
                          f"{min(r[10] for r in sel):.3f} | {min(r[11] for r in sel)}–{max(r[11] for r in sel)} |")
    ex.finish(fits=[r[:4] for r in rows])


def _figure(ex, rows, max_steps):
    """Per fit (a point; colour: cell, marker: ordering): the final KL against L, its split into the first row
    (the choice among ground states) and the rows after (the triangle rule), and the steps the fit took."""
    from nm_tf.representability import FitConfig

    fig = figure((14, 3.8))
    ax, bx, cx = (fig.add_subplot(1, 3, k) for k in (1, 2, 3))
    sizes = sorted({r[2] for r in rows})
    for j, cell in enumerate(CELLS):
        for k, ordering in enumerate(ORDERINGS):
            sel = [r for r in rows if r[0] == cell and r[1] == ordering]
            if not sel:
                continue
            marker, dx = ("o", -0.15) if k == 0 else ("s", 0.15)
            x = [sizes.index(r[2]) + dx + 0.06 * (j - 0.5) for r in sel]
            kw = dict(color=f"C{j}", ls="none", alpha=0.7, ms=5)
            ax.plot(x, [max(r[5], 1e-5) for r in sel], marker, label=f"{cell}, {ordering}", **kw)
            bx.plot(x, [max(r[6], 1e-6) for r in sel], marker, **kw)
            bx.plot(x, [max(r[7], 1e-6) for r in sel], marker, mfc="none", **{**kw, "alpha": 0.9})
            cx.plot(x, [r[11] for r in sel], marker, **kw)
    ax.axhline(FitConfig.tol, color="grey", ls=":", lw=1, label=f"early stop: KL < {FitConfig.tol:g}")
    cx.axhline(max_steps, color="grey", ls=":", lw=1)
    cx.text(0.01, max_steps * 1.02, "the last step: a fit here did not reach the stop", fontsize=7, color="grey",
            transform=cx.get_yaxis_transform())
    for axis, label, log in ((ax, "KL(uniform over ground states || p_θ) [nats]", True),
                             (bx, "KL of row 0 (filled) and of rows ≥ 1 (open) [nats]", True),
                             (cx, "steps of the fit", False)):
        axis.set_xticks(range(len(sizes)))
        axis.set_xticklabels([f"L = {L}" for L in sizes])
        if log:
            axis.set_yscale("log")
        axis.set_ylabel(label, fontsize=8)
    ax.set_ylim(FitConfig.tol / 2, max(0.01, 2 * max(r[5] for r in rows)))
    bx.set_ylim(5e-7, None)
    bx.text(0.01, 0.02, "values below 1e-6 drawn at 1e-6", transform=bx.transAxes, fontsize=7, color="grey")
    cx.set_ylim(0, 1.12 * max_steps)
    # one legend for the three panels, under them: inside, it covered the points
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.suptitle("Maximum-likelihood fits to the uniform ground-state distribution (d_h = 40, full batch, exact KL; "
                 "Adam, lr 1e-3 cosine-decayed over " + f"{max_steps:,}".replace(",", " ") + " steps)", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    ex.save(fig)


if __name__ == "__main__":
    main()
