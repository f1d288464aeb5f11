"""Landscapes inside the window where F overshoots the exact curve and snaps back (issue 27 §5).

Used by ``trainability.py``'s group ``snapback_landscapes`` (run ``trainability.py --groups snapback_landscapes``
after ``curvature_vca``): on seed 0 of the curvature runs (VCA L = 16, weights kept every 10 annealing steps for
T in [0.1, 0.35]) three kept points are chosen from the run's own history, and each is scanned on the random
plane (Fig. 5's: 200 x 200, span 0.15, seed 0, the run's 100 samples) and on the PCA plane of the kept points in
the window (``nm-tf landscape --trajectory-step S --plane pca --window 0.1:0.35``; the quick preset uses its
curvature runs' dense window, 0.1:0.5):

- ``at``: the kept point where the relative deviation (F - F_exact)/|F_exact|, as a running median over 21
  annealing rows (a single row's F is a 100-sample estimate), is largest inside the window;
- ``before``: the last kept point before it whose smoothed deviation is below 1 % (the first kept point of the
  window where none is);
- ``after``: the first kept point after it whose smoothed deviation is below 1 % (the last kept point of the
  window where none is).

Each scan is a subprocess of ``nm-tf landscape`` (one TensorFlow thread) writing
``OUT/snapback_landscapes/<run>/landscape_<tag>.npz`` with its figures; a finished scan is reused, so a killed
study redoes at most the scan in flight. Beside each point, the Hessian's largest and smallest
eigenvalues where the curvature group computed them there. Writes ``trainability_snapback.csv`` and the figure
``trainability_snapback.{png,pdf}`` (one row per plane, one column per point, the path drawn on the PCA maps).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from common import figure
from curvature_report import THRESHOLD, deviation_curve     # the smoothed deviation from the exact curve, its 1 %
SPAN = {"paper": 0.15, "quick": 1.0}      # Fig. 5's span at L = 16 (float32 overflows beyond ~0.2)
SEEDS = (0,)
WHICH = ("before", "at", "after")
PLANES = ("random", "pca")


def choose_points(rows, kept_steps, window) -> dict:
    """``{"before": step, "at": step, "after": step, "deviation": {step: smoothed deviation}}`` from a run's
    history rows (:meth:`RunDir.history`) and the training steps of its kept trajectory points."""
    steps, key, dev = deviation_curve(rows, quantum=False)
    smooth = dict(zip(steps.tolist(), dev))
    T = dict(zip(steps.tolist(), key))
    inside = [int(s) for s in kept_steps if int(s) in smooth and window[0] <= T[int(s)] <= window[1]]
    if not inside:
        raise SystemExit(f"no kept trajectory point with a history row has T in [{window[0]}, {window[1]}]")
    at = max(inside, key=lambda s: smooth[s])
    below = [s for s in inside if smooth[s] < THRESHOLD]
    before = max([s for s in below if s < at], default=inside[0])
    after = min([s for s in below if s > at], default=inside[-1])
    return {"before": before, "at": at, "after": after, "deviation": {s: float(smooth[s]) for s in inside},
            "T": {s: float(T[s]) for s in inside}}


def scan_path(ex, task, step: int, plane: str) -> Path:
    """Where ``nm-tf landscape --out`` writes the scan at kept point ``step`` (its default tag)."""
    return ex.out / "snapback_landscapes" / task.name / f"landscape_{'pca_' if plane == 'pca' else ''}traj{step}.npz"


def scan(ex, task, step: int, plane: str, window) -> Path:
    """The scan at kept point ``step`` on ``plane``; reused when its file exists."""
    path = scan_path(ex, task, step, plane)
    if path.exists():
        return path
    out = path.parent
    out.mkdir(parents=True, exist_ok=True)
    points = 200 if ex.preset == "paper" else 31
    argv = [sys.executable, "-m", "nm_tf", "landscape", "--workdir", task.workdir, "--trajectory-step", str(step),
            "--points", str(points), "--seed", "0", "--threads", "1", "--out", str(out), "--plane", plane]
    argv += (["--window", f"{window[0]}:{window[1]}"] if plane == "pca" else ["--span", str(SPAN[ex.preset])])
    print(f"  {task.name}: {plane} plane at step {step}", flush=True)
    subprocess.run(argv, check=True)
    return path


HEADER = ["run", "point", "step", "T", "smoothed_deviation", "plane", "span", "center_loss", "min_loss", "max_loss",
          "nonfinite_points", "explained_pc1", "explained_pc2", "hessian_top", "hessian_bottom"]


def curvature_at(workdir) -> dict:
    """``{step: (largest, smallest Hessian eigenvalue)}`` from the run's curvature along its trajectory (the
    ``curvature_vca`` group computes it), empty where there is none yet."""
    import csv

    from nm_tf.landscape.curvature import TRAJECTORY_CSV
    from nm_tf.landscape.trajectory import trajectory_dir

    path = trajectory_dir(workdir) / TRAJECTORY_CSV
    if not path.exists():
        return {}
    with path.open() as fh:
        return {int(r["step"]): (float(r["top_1"]), float(r["bottom_1"])) for r in csv.DictReader(fh)}


def study(ex, tasks, window):
    """Scan, tabulate and draw the chosen points of the finished ``tasks`` (seed 0 of ``curvature_vca``) inside
    ``window = (low, high)`` of T."""
    from nm_tf.landscape.trajectory import load_trajectory

    rows, maps = [], {}
    for task in tasks:
        run = ex.rundir(task.name)
        if not run.finished:
            print(f"{task.name}: not finished; its snap-back landscapes wait for it", flush=True)
            continue
        chosen = choose_points(run.history(), load_trajectory(task.workdir)[0], window)
        curvature = curvature_at(task.workdir)
        for which in WHICH:
            step = chosen[which]
            for plane in PLANES:
                path = scan_path(ex, task, step, plane) if ex.finished_only else scan(ex, task, step, plane, window)
                if not path.exists():
                    continue
                with np.load(path) as d:
                    data = {k: d[k] for k in d.files}
                maps[task.name, which, plane] = data
                loss = data["loss"][np.isfinite(data["loss"])]
                ev = data.get("explained_variance", np.full(2, np.nan))
                rows.append([task.name, which, step, chosen["T"][step], chosen["deviation"][step], plane,
                             float(data["span"]), float(data["center_loss"]), float(loss.min()), float(loss.max()),
                             int(data["nonfinite_points"]), float(ev[0]), float(ev[1]),
                             *curvature.get(step, (np.nan, np.nan))])
    ex.write_csv("_snapback", HEADER, rows)
    if maps:
        _figure(ex, rows, maps)
    return rows


def _figure(ex, rows, maps):
    from nm_tf.landscape.plots import rescale

    runs = sorted({r[0] for r in rows})
    fig = figure((11, 6.6 * len(runs)))
    for i, name in enumerate(runs):
        for j, plane in enumerate(PLANES):
            for k, which in enumerate(WHICH):
                ax = fig.add_subplot(2 * len(runs), 3, 6 * i + 3 * j + k + 1)
                data = maps.get((name, which, plane))
                if data is None:
                    ax.set_axis_off()
                    continue
                a, b = data["alpha"], data["beta"]
                im = ax.imshow(rescale(data["loss"]).T, origin="lower", extent=(a[0], a[-1], b[0], b[-1]),
                               cmap="viridis", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
                ax.plot([0], [0], "r+", ms=9, mew=1.5)
                if plane == "pca":
                    ta, tb = data["trajectory_alpha"], data["trajectory_beta"]
                    ax.plot(ta, tb, "-o", color="white", lw=0.8, ms=1.5)
                    ax.plot(ta[:1], tb[:1], "s", color="orange", mec="k", ms=4)
                    ev = data["explained_variance"]
                    xlabel, ylabel = f"PC1 ({100 * ev[0]:.0f} %)", f"PC2 ({100 * ev[1]:.0f} %)"
                else:
                    xlabel, ylabel = "α", "β"
                ax.set_xlabel(xlabel, fontsize=8)
                ax.set_ylabel((f"{'random plane' if plane == 'random' else 'PCA plane (window)'}\n" if k == 0 else "")
                              + ylabel, fontsize=8)
                row = next(r for r in rows if r[0] == name and r[1] == which and r[5] == plane)
                loss = np.asarray(data["loss"], dtype=float)
                title = f"{which}: T = {row[3]:.3f}, F dev. {100 * row[4]:+.1f} %" if j == 0 else ""
                if j == 0 and np.isfinite(row[13]):
                    title += f"\nHessian: largest {row[13]:+.3g}, smallest {row[14]:+.3g}"
                ax.set_title(title + ("\n" if title else "") + f"F/N {np.nanmin(loss):.4f} … {np.nanmax(loss):.4f}"
                             + (f" ({row[10]} overflowed)" if row[10] else ""), fontsize=8)
                ax.tick_params(labelsize=7)
        fig.text(0.46, 1 - (i + 0.02) / len(runs), f"{name}: before, at and after the largest overshoot of F above "
                 "the exact F (red +: the scan's centre; orange: the window's first kept point)",
                 ha="center", va="top", fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.9, 1 - 0.04 / len(runs)))
    cax = fig.add_axes((0.92, 0.3, 0.015, 0.4))
    fig.colorbar(im, cax=cax, label="loss rescaled to [−1, 1] in each panel")
    ex.save(fig, "_snapback")
