"""The Hessian's spectrum edges along the anneal beside the deviation from the exact curve (issue 27 §5).

Used by ``trainability.py`` after its curvature groups (and by ``--groups curvature_report`` on what exists). For
each curvature run: the relative deviation of the training loss from the exact curve, (loss - exact)/|exact|, as a
running median over 21 annealing rows (one row is a 100-sample estimate; VCA: F against the exact F(T) on every
row; VQA: E against Lanczos e0(Gamma), interpolated from a grid every 0.025 below Gamma = 1), and the Hessian's 5
largest and 5 smallest eigenvalues at the kept points (``nm-tf curvature --trajectory``).

Inside the window (VCA T <= 2, VQA Gamma <= 0.6) the anneal is cut into phases at the overshoot:
``before`` (deviation still below 1 %), ``rising`` (from the first row above 1 % to the largest deviation),
``falling`` (from there to the first row back below 1 %) and ``after``. Per phase: the median largest eigenvalue,
the median smallest, and the share of points whose smallest eigenvalue is negative by more than 1 % of the
largest (``NEGATIVE``; at the trajectory's 500 samples the edges are mostly the estimator's noise, far beyond
this 1 %: ``noise_study`` and ``heldout_study`` measure how much, and those decide about negative curvature). Two
candidate precursors, each located in the anneal and compared with the onset:
a jump of the top eigenvalue (the first point above ``JUMP`` times its value at the window's first point) and
negative curvature (the first point below ``-NEGATIVE`` times the top). Writes ``trainability_curvature.csv``
(every point), ``trainability_curvature_phases.csv`` and the figure ``trainability_curvature.{png,pdf}``.

Whether the edges are the network's or the sampled estimator's: ``noise_study`` (the edges at 500-4000 samples)
and ``heldout_study`` (the edge eigenvectors tested on independent sample sets: bounds on the exact edges).
"""

from __future__ import annotations

import csv
import math

import numpy as np
from common import figure, running_median

THRESHOLD = 0.01        # the smoothness measure's 1 % (trainability.py); also the snap-back study's
HALF = 10               # running median over 21 annealing rows, as the smoothness measure's spikes
JUMP = 2.0
NEGATIVE = 0.01
PHASES = ("before", "rising", "falling", "after")


def deviation_curve(rows, quantum: bool, e0=None):
    """``(steps, key, smoothed deviation)`` over the annealing rows: key is T (VCA) or Gamma (VQA). VCA uses each
    row's exact F; VQA ``e0(gammas) -> exact energies per spin`` (the history has e0 at a few points only)."""
    ann = [r for r in rows if r.phase == "anneal"]
    key = np.array([r.gamma if quantum else r.T for r in ann], float)
    if quantum:
        exact = np.asarray(e0(key), float)
    else:
        ann = [r for r in ann if r.exact_per_spin]
        key = np.array([r.T for r in ann], float)
        exact = np.array([r.exact_per_spin for r in ann], float)
    loss = np.array([r.loss_per_spin for r in ann], float)
    dev = (loss - exact) / np.abs(exact)
    return np.array([r.step for r in ann]), key, running_median(dev, HALF)


def phases(steps, key, dev, window) -> dict:
    """Where the overshoot starts, peaks and ends inside ``window`` (training steps; None where it does not)."""
    inside = (key >= window[0]) & (key <= window[1])
    s, d = steps[inside], dev[inside]
    out = {"onset": None, "peak": None, "back": None, "largest_deviation": float(d.max()) if len(d) else math.nan}
    over = np.flatnonzero(d > THRESHOLD)
    if not len(over):
        return out
    peak = int(np.argmax(d))
    back = [i for i in np.flatnonzero(d < THRESHOLD) if i > peak]
    out.update(onset=int(s[over[0]]), peak=int(s[peak]), back=int(s[back[0]]) if back else None)
    return out


def phase_of(step: int, ph: dict) -> str:
    if ph["onset"] is None:
        return "before"
    if step < ph["onset"]:
        return "before"
    if step <= ph["peak"]:
        return "rising"
    if ph["back"] is None or step < ph["back"]:
        return "falling"
    return "after"


def precursors(points) -> dict:
    """The first point (training step) of ``points`` (``[(step, top, bottom)]`` in anneal order, inside the window)
    where the top eigenvalue exceeds ``JUMP`` times its first value, and where the bottom one is below ``-NEGATIVE``
    times the top."""
    if not points:
        return {"jump": None, "negative": None}
    first = points[0][1]
    jump = next((s for s, top, _ in points if top > JUMP * first), None)
    negative = next((s for s, top, bottom in points if bottom < -NEGATIVE * abs(top)), None)
    return {"jump": jump, "negative": negative}


def read_curvature(workdir) -> list:
    """The rows of a run's ``curvature_trajectory.csv`` as dicts of floats, in step order (empty without one)."""
    from nm_tf.landscape.curvature import TRAJECTORY_CSV
    from nm_tf.landscape.trajectory import trajectory_dir

    path = trajectory_dir(workdir) / TRAJECTORY_CSV
    if not path.exists():
        return []
    with path.open() as fh:
        rows = [{k: float(v) if v not in ("", "exact") else math.nan for k, v in r.items()} for r in csv.DictReader(fh)]
    return sorted(rows, key=lambda r: r["step"])


def lanczos_e0(L: int, cache: dict):
    """``e0(gammas)``: Lanczos on Fig. 3's grid (0.025 below Gamma = 1, 0.25 above), linear between grid points;
    ``cache`` holds ``{(L, gamma): e0}`` (fig3's exact grid where it exists)."""
    from fig3_vqa_energy import exact_grid

    from nm_tf.exact import quantum_ground_energy

    def e0(gammas):
        grid = exact_grid(float(np.max(gammas)), quick=False)
        vals = []
        for g in grid:
            k = (L, round(float(g), 9))
            if k not in cache:
                cache[k] = quantum_ground_energy(L, float(g))
            vals.append(cache[k])
        return np.interp(gammas, grid, vals)

    return e0


def _csv_rows(path) -> list:
    """The rows of one of the studies' CSVs as lists of strings (empty without the file)."""
    if not path.exists():
        return []
    with path.open() as fh:
        return [list(r.values()) for r in csv.DictReader(fh)]


def _finished_curvature_runs(ex, tasks):
    """``(mode, task, run, cfg, quantum)`` for each finished run of ``tasks`` that has its curvature."""
    for mode, task in tasks:
        run = ex.rundir(task.name)
        if run.finished and read_curvature(task.workdir):
            yield mode, task, run, run.config(), mode == "vqa"


def study_points(run, task, quantum: bool, window, cache) -> dict:
    """The two kept points of a curvature run that the noise and held-out studies revisit: the dense window's
    first (``window_start``) and the one of the largest smoothed deviation from the exact curve
    (``largest_deviation``), as training steps."""
    from nm_tf.landscape.trajectory import load_trajectory

    cfg = run.config()
    steps, key, dev = deviation_curve(run.history(), quantum, lanczos_e0(cfg.L, cache) if quantum else None)
    kept = load_trajectory(task.workdir)
    inside = [i for i in range(len(kept[0])) if window[0] <= (kept[2] if quantum else kept[1])[i] <= window[1]]
    dev_at = dict(zip(steps.tolist(), dev.tolist()))
    return {"window_start": int(kept[0][inside[0]]),
            "largest_deviation": int(max((kept[0][i] for i in inside), key=lambda s: dev_at.get(int(s), -1)))}


NOISE_SAMPLES = {"paper": (500, 1000, 2000, 4000), "quick": (100, 200, 400)}
NOISE_SEEDS = (0, 1)
NOISE_HEADER = ["run", "point", "step", "T", "gamma", "samples", "seed", "top_1", "bottom_1", "products"]


def noise_study(ex, tasks, settings, exact_cache=None) -> list:
    """Is the measured curvature the network's or the estimator's? The largest and smallest eigenvalue of a sampled
    Hessian are biased outwards by its noise (an unbiased matrix estimate does not give unbiased extreme
    eigenvalues), so a negative smallest eigenvalue alone does not show negative curvature. At two kept points of
    each finished curvature run — the window's first and the one of the largest deviation — the edges again with
    ``NOISE_SAMPLES`` samples, ``NOISE_SEEDS`` each: an edge that shrinks like 1/sqrt(samples) is noise, one that
    stays is the network's. Written to ``trainability_curvature_noise.csv`` (resumable: rows already there are
    kept)."""
    from nm_tf.landscape.curvature import CurvatureProblem, hessian_extremes
    from nm_tf.landscape.trajectory import trajectory_point
    from nm_tf.models.factory import build_model

    rows = _csv_rows(ex.path("_curvature_noise.csv"))
    have = {(r[0], r[2], r[5], r[6]) for r in rows}
    cache = {} if exact_cache is None else exact_cache
    for mode, task, run, cfg, quantum in _finished_curvature_runs(ex, tasks):
        chosen = study_points(run, task, quantum, settings(mode)["window"], cache)
        model = build_model(cfg, jit_compile=False)
        for point, step in chosen.items():
            T, gamma, weights = trajectory_point(task.workdir, step)
            model.rnn_cell.assign_weight_dict(weights)
            for samples in NOISE_SAMPLES[ex.preset]:
                for seed in NOISE_SEEDS:
                    if (task.name, str(step), str(samples), str(seed)) in have:
                        continue
                    problem = CurvatureProblem(model, quantum=quantum, T=T, gamma=gamma, J=cfg.J, samples=samples,
                                               seed=seed)
                    res = hessian_extremes(problem, top=1, bottom=1, seed=seed)
                    row = [task.name, point, step, T, gamma, samples, seed, res["top"][0], res["bottom"][0],
                           res["products"]]
                    rows.append(row)
                    ex.write_csv("_curvature_noise", NOISE_HEADER, rows)
                    print(f"  {task.name} {point} step {step}, {samples} samples, seed {seed}: "
                          f"{row[7]:+.4g} .. {row[8]:+.4g}", flush=True)
    print("\n| run | point | samples | largest eigenvalue (per seed) | smallest eigenvalue (per seed) |\n"
          "|---|---|---|---|---|")
    for run, point, samples in dict.fromkeys((r[0], r[1], int(r[5])) for r in rows):
        sel = [r for r in rows if (r[0], r[1], int(r[5])) == (run, point, samples)]
        print(f"| {run} | {point} | {samples} | {', '.join(fmt(float(r[7])) for r in sel)} | "
              f"{', '.join(fmt(float(r[8])) for r in sel)} |")
    fits = noise_fits(rows)
    print("\n| run | point | largest: a + b/sqrt(samples), a (s.e.) | smallest: a (s.e.) |\n|---|---|---|---|")
    for (run, point), f in fits.items():
        print(f"| {run} | {point} | {fmt(f['top'][0])} ({fmt(f['top'][1])}) | {fmt(f['bottom'][0])} "
              f"({fmt(f['bottom'][1])}) |")
    noise_figure(ex, rows, fits)
    return rows


def noise_fits(rows) -> dict:
    """Per (run, point): least squares of each edge against 1/sqrt(samples) over every row (both seeds),
    ``{"top": (a, se_a, b), "bottom": (a, se_a, b)}`` — ``a`` is the edge extrapolated to infinitely many samples if
    its noise part falls like 1/sqrt(samples) (the size of the noise matrix does; how the edge responds to it is
    an assumption, which the held-out study does not need)."""
    out = {}
    for run, point in dict.fromkeys((r[0], r[1]) for r in rows):
        sel = [r for r in rows if (r[0], r[1]) == (run, point)]
        x = np.array([1 / math.sqrt(int(r[5])) for r in sel])
        fit = {}
        for name, col in (("top", 7), ("bottom", 8)):
            y = np.array([float(r[col]) for r in sel])
            if len(set(x.tolist())) < 2:
                fit[name] = (math.nan, math.nan, math.nan)
                continue
            A = np.stack([np.ones_like(x), x], 1)
            coef, *_ = np.linalg.lstsq(A, y, rcond=None)
            dof = len(y) - 2
            s2 = float(np.sum((y - A @ coef) ** 2) / dof) if dof > 0 else math.nan
            cov = s2 * np.linalg.inv(A.T @ A)
            fit[name] = (float(coef[0]), float(math.sqrt(cov[0, 0])) if dof > 0 else math.nan, float(coef[1]))
        out[(run, point)] = fit
    return out


def noise_figure(ex, rows, fits):
    """The edges against the sample count per (run, point), both seeds, with the 1/sqrt fit and, where the held-out
    study has the point, its bounds on the exact edges (``trainability_curvature_noise.{png,pdf}``)."""
    held = {}
    path = ex.path("_curvature_heldout.csv")
    if path.exists():
        with path.open() as fh:
            for r in csv.DictReader(fh):
                held.setdefault((r["run"], int(r["step"])), []).append(r)
    keys = list(fits)
    if not keys:
        return
    from nm_tf.landscape.curvature import HELDOUT_BOUND_SE as K

    fig = figure((3.4 * len(keys), 3.4))
    for j, (run, point) in enumerate(keys):
        ax = fig.add_subplot(1, len(keys), j + 1)
        sel = [r for r in rows if (r[0], r[1]) == (run, point)]
        n = np.array([int(r[5]) for r in sel])
        for name, col, color in (("largest", 7, "C0"), ("smallest", 8, "C3")):
            ax.plot(n, [float(r[col]) for r in sel], "o", color=color, ms=4, alpha=0.7, label=f"{name} (per seed)")
            a, _, b = fits[(run, point)]["top" if col == 7 else "bottom"]
            if not math.isnan(a):
                grid = np.geomspace(n.min(), n.max() * 4, 50)
                ax.plot(grid, a + b / np.sqrt(grid), "--", color=color, lw=0.8)
                ax.axhline(a, color=color, lw=0.6, ls=":")
        step = int(sel[0][2])
        for r in held.get((run, step), []):
            if r["k"] != "1":
                continue
            m, se = float(r["heldout_mean"]), float(r["heldout_se"])
            ax.errorbar([int(r["samples"]) * 1.15], [m], yerr=[K * se], fmt="s", ms=4, capsize=2,
                        color="C0" if r["edge"] == "top" else "C3", mfc="white",
                        label="held-out quotient ± 3 s.e." if r["edge"] == "top" else None)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xscale("log")
        ticks = sorted(set(n.tolist()) | {int(n.max()) * 4})
        ax.set_xticks(ticks, [str(t) for t in ticks], fontsize=7)
        ax.minorticks_off()
        ax.set_xlabel("samples in the Hessian estimate")
        if j == 0:
            ax.set_ylabel("Hessian eigenvalue (loss per spin)")
        gamma = float(sel[0][4])
        ax.set_title(f"{run}, {point.replace('_', ' ')}\n(Γ = {gamma:g})" if run.startswith("curv_vqa")
                     else f"{run}, {point.replace('_', ' ')}\n(T = {float(sel[0][3]):g})", fontsize=8)
        if j == 0:
            ax.legend(fontsize=6)
    fig.tight_layout()
    ex.save(fig, "_curvature_noise")


HELDOUT_SAMPLES = {"paper": 4000, "quick": 200}
HELDOUT_EDGE = 3                        # eigenvectors per edge
HELDOUT_SEED = 0                        # the Lanczos sample set: the noise study's seed 0 at the same size
HELDOUT_SEEDS = tuple(range(100, 108))  # 8 independent held-out sets
HELDOUT_HEADER = ["run", "point", "step", "T", "gamma", "samples", "edge", "k", "in_sample", "heldout_mean",
                  "heldout_se", "sets"]


def heldout_study(ex, tasks, settings, exact_cache=None) -> list:
    """Negative curvature, shown or not: at the noise study's points, the 3 top and 3 bottom eigenvectors of the
    sampled Hessian (``HELDOUT_SAMPLES``, seed 0) and their Rayleigh quotients on 8 independent sample sets
    (``nm_tf.landscape.curvature.heldout_quotients``). The held-out mean of a vector is an unbiased estimate of its
    quotient under the exact Hessian, so the smallest ``mean + 3 s.e.`` over the bottom vectors is an upper bound
    on the exact smallest eigenvalue (below 0: negative curvature shown) and the largest ``mean - 3 s.e.`` over the
    top vectors a lower bound on the exact largest. Writes ``trainability_curvature_heldout.csv`` (one row per
    vector; a point already there is kept)."""
    from nm_tf.landscape.curvature import (HELDOUT_BOUND_SE, CurvatureProblem, heldout_quotients,
                                           hessian_extremes)
    from nm_tf.landscape.trajectory import trajectory_point
    from nm_tf.models.factory import build_model

    rows = _csv_rows(ex.path("_curvature_heldout.csv"))
    have = {(r[0], str(r[2])) for r in rows}
    cache = {} if exact_cache is None else exact_cache
    samples = HELDOUT_SAMPLES[ex.preset]
    for mode, task, run, cfg, quantum in _finished_curvature_runs(ex, tasks):
        model = build_model(cfg, jit_compile=False)
        for point, step in study_points(run, task, quantum, settings(mode)["window"], cache).items():
            if (task.name, str(step)) in have:
                continue
            T, gamma, weights = trajectory_point(task.workdir, step)
            model.rnn_cell.assign_weight_dict(weights)

            def make(seed):
                return CurvatureProblem(model, quantum=quantum, T=T, gamma=gamma, J=cfg.J, samples=samples, seed=seed)

            res = hessian_extremes(make(HELDOUT_SEED), top=HELDOUT_EDGE, bottom=HELDOUT_EDGE, seed=HELDOUT_SEED,
                                   vectors=True)
            held = heldout_quotients(make, res, HELDOUT_SEEDS)
            for edge in ("top", "bottom"):
                for k, r in enumerate(held[edge]):
                    rows.append([task.name, point, step, T, gamma, samples, edge, k + 1, r["in_sample"], r["mean"],
                                 r["se"], len(HELDOUT_SEEDS)])
            ex.write_csv("_curvature_heldout", HELDOUT_HEADER, rows)
            print(f"  {task.name} {point} step {step}: top {res['top'][0]:+.4g} in sample, exact >= "
                  f"{held['lambda_max_lower']:+.4g}; bottom {res['bottom'][0]:+.4g} in sample, exact <= "
                  f"{held['lambda_min_upper']:+.4g}", flush=True)
    k = HELDOUT_BOUND_SE
    print("\n| run | point | top: in sample, held-out (mean ± s.e.) | exact largest ≥ | bottom: in sample, held-out | "
          "exact smallest ≤ | negative curvature |\n|---|---|---|---|---|---|---|")
    for run, point in dict.fromkeys((r[0], r[1]) for r in rows):
        sel = [r for r in rows if (r[0], r[1]) == (run, point)]
        top = [r for r in sel if r[6] == "top"]
        bottom = [r for r in sel if r[6] == "bottom"]
        lower = max(float(r[9]) - k * float(r[10]) for r in top)
        upper = min(float(r[9]) + k * float(r[10]) for r in bottom)
        print(f"| {run} | {point} | {fmt(float(top[0][8]))}, {fmt(float(top[0][9]))} ± {fmt(float(top[0][10]))} | "
              f"{fmt(lower)} | {fmt(float(bottom[0][8]))}, {fmt(float(bottom[0][9]))} ± {fmt(float(bottom[0][10]))} "
              f"| {fmt(upper)} | {'shown' if upper < 0 else 'not shown'} |")
    noise_rows = _csv_rows(ex.path("_curvature_noise.csv"))
    if noise_rows:                      # redraw the noise figure with these bounds beside its edges
        noise_figure(ex, noise_rows, noise_fits(noise_rows))
    return rows


HEADER = ["run", "mode", "L", "seed", "step", "T", "gamma", "phase", "smoothed_deviation", "loss_per_spin", "top_1",
          "bottom_1", "bottom_over_top", "negative_fraction", "condition_ratio"]
PHASE_HEADER = ["run", "phase", "points", "top_median", "bottom_median", "negative_share", "onset_key", "peak_key",
                "back_key", "largest_deviation", "jump_key", "negative_key"]


def report(ex, tasks, settings, exact_cache=None):
    """Tabulate and draw the curvature of the finished ``tasks`` (``(mode, task)`` pairs) that have one;
    ``settings(mode)`` gives the window. Returns the per-phase rows."""
    cache = {} if exact_cache is None else exact_cache
    rows, phase_rows, curves = [], [], {}
    for mode, task in tasks:
        run = ex.rundir(task.name)
        points = read_curvature(task.workdir)
        if not run.finished or not points:
            print(f"{task.name}: no curvature along its trajectory yet", flush=True)
            continue
        cfg = run.config()
        quantum = mode == "vqa"
        window = settings(mode)["window"]
        steps, key, dev = deviation_curve(run.history(), quantum, lanczos_e0(cfg.L, cache) if quantum else None)
        ph = phases(steps, key, dev, window)
        key_at = dict(zip(steps.tolist(), key.tolist()))
        dev_at = dict(zip(steps.tolist(), dev.tolist()))
        inside = []
        for p in points:
            s = int(p["step"])
            k = p["gamma"] if quantum else p["T"]
            phase = phase_of(s, ph) if window[0] <= k <= window[1] else "sparse"
            if phase != "sparse":
                inside.append((s, p["top_1"], p["bottom_1"]))
            rows.append([task.name, mode, cfg.L, cfg.seed, s, p["T"], p["gamma"], phase, dev_at.get(s, math.nan),
                         p["loss_per_spin"], p["top_1"], p["bottom_1"], p["bottom_1"] / abs(p["top_1"]),
                         p["negative_fraction"], p["condition_ratio"]])
        pre = precursors(inside)
        for name in PHASES:
            sel = [r for r in rows if r[0] == task.name and r[7] == name]
            tops = np.array([r[10] for r in sel])
            bottoms = np.array([r[11] for r in sel])
            phase_rows.append([task.name, name, len(sel), float(np.median(tops)) if len(sel) else math.nan,
                               float(np.median(bottoms)) if len(sel) else math.nan,
                               float(np.mean(bottoms < -NEGATIVE * np.abs(tops))) if len(sel) else math.nan,
                               *(key_at.get(ph[k]) for k in ("onset", "peak", "back")), ph["largest_deviation"],
                               *(key_at.get(pre[k]) for k in ("jump", "negative"))])
        curves[task.name] = (mode, key, dev, window, [key_at.get(ph[k]) for k in ("onset", "back")])
    ex.write_csv("_curvature", HEADER, rows)
    ex.write_csv("_curvature_phases", PHASE_HEADER, phase_rows)
    if curves:
        _figure(ex, rows, curves)
    _print(phase_rows)
    return phase_rows


def fmt(x) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def _print(phase_rows):
    print("\n| run | phase | points | top (median) | bottom (median) | share < -1 % of top |\n"
          "|---|---|---|---|---|---|")
    for r in phase_rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {fmt(r[3])} | {fmt(r[4])} | {fmt(r[5])} |")
    print("\n| run | onset | peak | back below 1 % | largest deviation | top > 2x first | bottom < -1 % of top |\n"
          "|---|---|---|---|---|---|---|")
    for r in phase_rows[::len(PHASES)]:
        print(f"| {r[0]} | {fmt(r[6])} | {fmt(r[7])} | {fmt(r[8])} | {fmt(r[9])} | {fmt(r[10])} | {fmt(r[11])} |")


def _figure(ex, rows, curves):
    names = list(curves)
    fig = figure((4.2 * len(names), 8.4))
    for j, name in enumerate(names):
        mode, key, dev, window, (onset, back) = curves[name]
        sym = "Γ" if mode == "vqa" else "T"
        lo, hi = window
        inside = (key >= lo) & (key <= hi)
        sel = [r for r in rows if r[0] == name and r[7] != "sparse"]
        k = np.array([r[6] if mode == "vqa" else r[5] for r in sel])
        axes = [fig.add_subplot(3, len(names), j + 1 + i * len(names)) for i in range(3)]
        axes[0].plot(key[inside], 100 * dev[inside], color="C0", lw=1)
        axes[0].axhline(100 * THRESHOLD, color="0.5", ls=":", lw=0.8)
        axes[0].set_ylabel("(loss − exact)/|exact|, %\n(running median of 21 rows)", fontsize=8)
        axes[0].set_title(name, fontsize=9)
        axes[1].semilogy(k, [r[10] for r in sel], "o-", color="C1", ms=3, lw=0.8, label="largest")
        axes[1].set_ylabel("largest Hessian eigenvalue", fontsize=8)
        axes[2].plot(k, [r[12] for r in sel], "o-", color="C2", ms=3, lw=0.8)
        axes[2].axhline(-NEGATIVE, color="0.5", ls=":", lw=0.8)
        axes[2].set_yscale("symlog", linthresh=1e-3)
        axes[2].set_ylabel("smallest / largest eigenvalue", fontsize=8)
        axes[2].set_xlabel(f"{sym} (the anneal runs right to left)")
        for ax in axes:
            if mode == "vca":       # T from 2 to 0: the dense points below T = 0.35 get a third of the width
                ax.set_xscale("symlog", linthresh=0.05, linscale=0.3)
            ax.set_xlim(hi, lo)
            ax.tick_params(labelsize=8)
            if onset is not None:          # the overshoot: from the first row above 1 % to the first back below
                ax.axvspan(lo if back is None else back, onset, color="C3", alpha=0.1, lw=0)
    fig.tight_layout()
    ex.save(fig, "_curvature")
