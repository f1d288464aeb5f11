"""The paper's open questions, measured (issue 27): curvature along the anneal, SR against Adam, smoothness.

    python experiments/trainability.py --preset paper --out ~/nm-paper --jobs 2 --groups a,b [--finished-only]
    python experiments/trainability.py --preset quick --groups curvature_vca,smoothness      # minutes, small

Groups (Table I otherwise; every anneal is an ordinary run in the pool, committed with history and weights):

- ``curvature_vca``: VCA L = 16, seeds 0 and 1, keeping the weights every 500 annealing steps and every 10 while
  T is in [0.1, 0.35] (where every L = 16 seed peaks above the exact F(T) and snaps back); then the Hessian's 5
  largest and 5 smallest eigenvalues (``nm-tf curvature --trajectory``, 1000 samples, seed 0) at every kept point
  with T <= 2 (F leaves the exact curve by 1 % near T = 1.3) and at every 2000th annealing step, beside
  F - F_exact.
- ``curvature_vqa``: VQA L = 5, seeds 0 and 1, keeping the weights every 500 annealing steps and every 25 while
  Gamma <= 0.6; curvature at the kept points with Gamma <= 0.6 (500 samples: the flips make each product ~N times
  dearer).
- ``sr_pilot``: VCA L = 6 with ``--optimizer sr`` (shift 0.01, one update per training step on all 100 samples)
  at lr 0.01, 0.03, 0.1, 0.3, seed 100 — not a seed of the comparison, so the choice of lr does not select on it.
  The comparison uses the pilot lr with the lowest final residual energy (ties: the smaller median deviation
  from the exact F(T)).
- ``sr_vca6``, ``sr_vca16``, ``sr_vqa5``: SR at that lr, seeds 0-4 (L = 16: 0-2), beside the committed Adam runs
  ``vca_L6``, ``vca_L16``, ``vqa_L5`` of the same seeds.
- ``sr_matched_vqa5``, ``sr_matched_vca16``: the same seeds at the lr that gives the pilot's step
  (``sr_comparison.arm_lr``: a quarter for VQA, whose S is 1/4 of the Fisher matrix, and N_pilot / N for the
  extensive loss): 0.0108 at VQA L = 5, 0.0042 at VCA L = 16 for the pilot's 0.03.
- ``snapback_landscapes``: no new run: on seed 0 of ``curvature_vca`` (once finished), landscapes on the random
  and on the window's PCA plane before, at and after the largest overshoot of F above the exact curve inside
  T in [0.1, 0.35] (``snapback_landscapes.py`` says how the three points are chosen).
- ``curvature_report``: no new run: the curvature along the finished curvature runs beside their deviation from the
  exact curve, cut into phases at the overshoot (``curvature_report.py`` defines them); also made at the end of
  ``curvature_vca`` and ``curvature_vqa``.
- ``curvature_noise``: no new run: at two kept points of each curvature run, the edges again at 500-4000 samples
  and two seeds, to tell the network's curvature from the estimator's noise (``curvature_report.noise_study``).
- ``curvature_heldout``: no new run: at the same points, the 3 top and 3 bottom eigenvectors at 4000 samples tested
  on 8 independent sample sets — bounds on the exact Hessian's edges that the sampling noise cannot fake
  (``curvature_report.heldout_study``).
- ``sr_report``: no new run: Adam against SR on the finished runs of the three groups above (``sr_comparison.py``:
  success, ground-state fraction and coverage, smoothness); also made at the end of those groups.
- ``smoothness``: no new run: the smoothness measure on every run of the pool with a history (in the CSV); the
  VCA-against-VQA figure and table use the plain Table I runs alone (``vca_L<L>_s<seed>``, ``vqa_L<L>_s<seed>`` at
  L = 3, 5, 6), not ablations, other cells or SR.

Smoothness, per run, over its annealing rows: ``above_exact`` (the fraction of rows whose loss is more than 1 %
of |exact| above the exact curve: VCA at any L from its history; VQA from Lanczos e0(Gamma), from the history at
N <= 16 and interpolated on the grid of ``curvature_report.lanczos_e0`` at N <= 25, not beyond)
and ``max_excursion`` (the largest (loss - exact)/|exact|); and, for every run, ``spikes`` (the fraction of rows
whose loss departs from the median of the 21 rows around it by more than 1 % of that median's magnitude) and
``max_spike`` (the largest such relative departure). Writes trainability_*.csv and figures, and one meta file per
output family (``trainability_curvature.meta.json``, ``_curvature_noise``, ``_curvature_heldout``, ``_sr``,
``_snapback``, ``_smoothness``: the runs that family used), so that a call for one group keeps the others' records.
"""

import csv
import math
import sys

import numpy as np
import sr_comparison
from common import (STANDARD_RUN, Experiment, choose_groups, figure, parser, readable_log_axis, running_median,
                    seed_of)

SR_LRS = (0.01, 0.03, 0.1, 0.3)
SR_GROUPS = tuple(f"{arm}_{mode}{L}" for mode, L, _, arms in sr_comparison.SIZES for arm in arms)
SR_PILOT_SEED = 100
# VCA's window reaches T = 2: at L = 16, F leaves the exact curve by 1 % near T = 1.3 and creeps up to ~10 % at
# T = 0.15 before it snaps back, so the phases (and a precursor) need the kept points every 500 annealing steps
# from T = 2 (the dense ones cover only the peak and the snap-back)
CURVATURE = {"vca": dict(L=16, every=500, dense="0.1:0.35:10", window=(0.0, 2.0), sparse=2000, samples=1000),
             "vqa": dict(L=5, every=500, dense="0:0.6:25", window=(0.0, 0.6), sparse=2000, samples=500)}
QUICK_CURVATURE = {"vca": dict(L=4, every=100, dense="0.1:0.5:4", window=(0.0, 0.5), sparse=200, samples=200),
                   "vqa": dict(L=3, every=100, dense="0:0.6:20", window=(0.0, 0.6), sparse=200, samples=200)}
# each output family's meta file (``trainability<suffix>.meta.json``) and the groups that make it: one call of the
# script makes only the chosen groups' outputs, so one shared meta file would lose the provenance of the others
OUTPUTS = {"_curvature": ("curvature_vca", "curvature_vqa", "curvature_report"),
           "_curvature_noise": ("curvature_noise",), "_curvature_heldout": ("curvature_heldout",),
           "_sr": ("sr_pilot",) + SR_GROUPS + ("sr_report",), "_snapback": ("snapback_landscapes",),
           "_smoothness": ("smoothness",)}
NO_RUN_GROUPS = ("smoothness", "curvature_report", "curvature_noise", "curvature_heldout", "snapback_landscapes",
                 "sr_report")
SPIKE_WINDOW = 21
THRESHOLD = 0.01


def curvature_settings(ex, mode):
    return (CURVATURE if ex.preset == "paper" else QUICK_CURVATURE)[mode]


def groups(ex, sr_lr):
    out = {}
    for mode in ("vca", "vqa"):
        c = curvature_settings(ex, mode)
        out[f"curvature_{mode}"] = [ex.task(f"curv_{mode}_L{c['L']}_s{seed}", ex.config(
            mode, c["L"], seed, trajectory_every=c["every"], trajectory_dense=c["dense"])) for seed in (0, 1)]
    mode, L = sr_comparison.PILOT
    out["sr_pilot"] = [ex.task(pilot_run(lr), ex.config(mode, L, SR_PILOT_SEED, optimizer="sr", lr=lr, minibatch=None))
                       for lr in SR_LRS]
    if sr_lr is not None:
        for mode, L, seeds, arms in sr_comparison.SIZES:
            for arm in arms:
                out[f"{arm}_{mode}{L}"] = [ex.task(sr_comparison.sr_run(mode, L, seed, arm), ex.config(
                    mode, L, seed, optimizer="sr", lr=sr_comparison.arm_lr(arm, mode, L, sr_lr), minibatch=None))
                    for seed in range(seeds)]
    return out


def pilot_run(lr) -> str:
    """The SR pilot's run name at ``lr``."""
    return f"sr_pilot_lr{lr:g}_L{sr_comparison.PILOT[1]}_s{SR_PILOT_SEED}"


def pilot_choice(ex):
    """The pilot's lr (None until each of its runs has finished or diverged; a diverged pilot ranks last)."""
    best = None
    for lr in SR_LRS:
        rd = ex.rundir(pilot_run(lr))
        if rd.exists and not rd.finished and rd.diverged():
            continue
        if not rd.finished:
            return None
        s = rd.summary()
        key = (s["residual_energy_per_spin"], s["exact_rel_deviation_median"] or math.inf)
        best = min(best, (key, lr)) if best else (key, lr)
    if best is None:
        raise SystemExit(f"every SR pilot diverged (lr {', '.join(f'{lr:g}' for lr in SR_LRS)}): choose other rates")
    return best[1]


def smoothness(rows, e0=None) -> dict:
    """The measures of the module docstring on :meth:`RunDir.history` rows; ``e0(gammas)``, where given, is the
    exact VQA energy per spin (the histories of VQA at N > 16 have it at a few points only)."""
    ann = [r for r in rows if r.phase == "anneal"]
    loss = np.array([r.loss_per_spin for r in ann])
    out = {"rows": len(ann)}
    exact = list(e0(np.array([r.gamma for r in ann]))) if e0 is not None else [r.exact_per_spin for r in ann]
    if ann and all(e is not None and e != 0 for e in exact):
        rel = (loss - np.array(exact)) / np.abs(exact)
        out.update(above_exact=float(np.mean(rel > THRESHOLD)), max_excursion=float(rel.max()))
    else:
        out.update(above_exact=math.nan, max_excursion=math.nan)
    h = SPIKE_WINDOW // 2
    med = running_median(loss, h)
    dep = np.abs(loss - med) / np.maximum(np.abs(med), 1e-12)
    out.update(spikes=float(np.mean(dep > THRESHOLD)) if len(dep) else math.nan,
               max_spike=float(dep.max()) if len(dep) else math.nan)
    return out


def run_smoothness(run, e0_cache):
    """:func:`smoothness` of a finished run (None without a history); VQA at 16 < N <= 25 against Lanczos e0(Gamma)
    on Fig. 3's grid (``e0_cache``), where its history has no exact energy."""
    import curvature_report
    from nm_tf.exact.quantum import MAX_QUANTUM_SPINS

    if not run.history_path.exists():
        return None
    cfg, history = run.config(), run.history()
    lanczos = (cfg.mode == "vqa" and cfg.L ** 2 <= MAX_QUANTUM_SPINS
               and any(r.exact_per_spin is None for r in history if r.phase == "anneal"))
    return smoothness(history, curvature_report.lanczos_e0(cfg.L, e0_cache) if lanczos else None)


def run_curvature(ex, task, mode):
    from nm_tf.landscape.curvature import curvature_along_trajectory
    from nm_tf.landscape.trajectory import load_trajectory

    c = curvature_settings(ex, mode)
    steps, T, gamma, _ = load_trajectory(task.workdir)
    key = gamma if mode == "vqa" else T
    cfg = ex.rundir(task.name).config()
    # the dense window plus every sparse-th annealing step (as a window per point: curvature takes one window)
    sparse_steps = {int(s) for s in steps if (int(s) - cfg.warmup) % (c["sparse"] * cfg.train_steps) == 0}
    path = None
    for lo_hi in [c["window"]] + [(float(k), float(k)) for s, k in zip(steps, key) if int(s) in sparse_steps]:
        path = curvature_along_trajectory(task.workdir, top=5, bottom=5, samples=c["samples"], seed=0, exact=False,
                                          window=lo_hi, progress=lambda i, n, row: print(
                                              f"  {task.name} curvature step {row[0]}: {row[5]:+.4g} .. "
                                              f"{row[10]:+.4g}", flush=True))
    return path


def main():
    args = parser(__doc__, groups=True).parse_args()
    ex = Experiment(args, "trainability")
    sr_lr = pilot_choice(ex)
    table = groups(ex, sr_lr)
    table.update({g: [] for g in NO_RUN_GROUPS})
    chosen = choose_groups(table, args.groups, later=SR_GROUPS)
    waiting = [g for g in chosen if g not in table]
    if waiting:
        print(f"{', '.join(waiting)} wait for the sr_pilot group's four runs (the lr is chosen from them)", flush=True)
    tasks = [t for g in chosen if g in table for t in table[g]]
    summaries = ex.run_all(tasks, partial_ok=True)
    for mode in ("vca", "vqa"):
        if f"curvature_{mode}" in chosen and not ex.finished_only:
            for task in table[f"curvature_{mode}"]:
                if task.name in summaries:
                    print(f"{task.name}: curvature along the trajectory -> {run_curvature(ex, task, mode)}", flush=True)
    import curvature_report
    from fig3_vqa_energy import cached_exact

    e0_cache = cached_exact(ex.out / "fig3_exact.csv")        # Lanczos e0(Gamma) of Fig. 3's grid, where made
    every = groups(ex, None)
    curvature_tasks = [(m, t) for m in ("vca", "vqa") for t in every[f"curvature_{m}"]]
    if {"curvature_vca", "curvature_vqa", "curvature_report"} & set(chosen):
        curvature_report.report(ex, curvature_tasks, lambda mode: curvature_settings(ex, mode), e0_cache)
    if "curvature_noise" in chosen and not ex.finished_only:
        curvature_report.noise_study(ex, sorted(curvature_tasks, key=lambda mt: mt[0] != "vqa"),
                                     lambda mode: curvature_settings(ex, mode), e0_cache)
    if "curvature_heldout" in chosen and not ex.finished_only:
        curvature_report.heldout_study(ex, sorted(curvature_tasks, key=lambda mt: mt[0] != "vqa"),
                                       lambda mode: curvature_settings(ex, mode), e0_cache)
    used = {"_curvature": [t.name for _, t in curvature_tasks], "_smoothness": [],
            "_sr": [t.name for t in every["sr_pilot"]] + [r[-1] for r in sr_comparison.run_names()]}
    used["_curvature_noise"] = used["_curvature_heldout"] = used["_curvature"]
    if "snapback_landscapes" in chosen:
        import snapback_landscapes

        curvature_runs = [t for t in every["curvature_vca"] if seed_of(t) in snapback_landscapes.SEEDS]
        used["_snapback"] = [t.name for t in curvature_runs]
        low, high, _ = curvature_settings(ex, "vca")["dense"].split(":")
        snapback_landscapes.study(ex, curvature_runs, window=(float(low), float(high)))
    if "sr_pilot" in chosen:
        print(f"sr_pilot: chosen lr {pilot_choice(ex)}", flush=True)
    if set(SR_GROUPS + ("sr_report",)) & set(chosen):
        sr_comparison.study(ex, lambda run: run_smoothness(run, e0_cache))
    if "smoothness" in chosen:
        rows = []
        for rd in sorted((ex.out / "runs").iterdir()) if (ex.out / "runs").is_dir() else []:
            name = rd.name
            run = ex.rundir(name)
            if not run.finished or not run.history_path.exists():
                continue
            cfg = run.config()
            m = run_smoothness(run, e0_cache)
            used["_smoothness"].append(name)
            rows.append([name, cfg.mode, cfg.L, cfg.seed, cfg.optimizer, m["rows"], m["above_exact"],
                         m["max_excursion"], m["spikes"], m["max_spike"]])
        ex.write_csv("_smoothness", ["run", "mode", "L", "seed", "optimizer", "annealing_rows", "above_exact",
                                     "max_excursion", "spikes", "max_spike"], rows)
        _smoothness_figure(ex, rows)
        w = csv.writer(sys.stdout)
        for r in rows:
            w.writerow(r)
        print("\n| mode | L | runs | spikes (median, range) | largest spike (median, range) | above exact (median) |")
        print("|---|---|---|---|---|---|")
        for L in (3, 5, 6):
            for mode in ("vca", "vqa"):
                sel = np.array([r[6:10] for r in standard_rows(rows) if r[1] == mode and r[2] == L], dtype=float)
                if len(sel):
                    print(f"| {mode} | {L} | {len(sel)} | {np.median(sel[:, 2]):.4f} ({sel[:, 2].min():.4f}–"
                          f"{sel[:, 2].max():.4f}) | {np.median(sel[:, 3]):.3f} ({sel[:, 3].min():.3f}–"
                          f"{sel[:, 3].max():.3f}) | {_median_or_dash(sel[:, 0])} |")
    for suffix, family in OUTPUTS.items():
        if set(family) & set(chosen):
            ex.finish(suffix, runs=used[suffix], **({"sr_lr": pilot_choice(ex)} if suffix == "_sr" else {}))


def _median_or_dash(x) -> str:
    x = x[~np.isnan(x)]
    return f"{np.median(x):.4f}" if len(x) else "–"


def standard_rows(rows):
    """The rows of the plain Table I runs at L = 3, 5, 6: the VCA-against-VQA comparison uses these alone."""
    return [r for r in rows if STANDARD_RUN.fullmatch(r[0]) and r[2] in (3, 5, 6) and r[4] == "adam" and r[5] >= 1000]


SMOOTHNESS_PANELS = [(8, "rows off their local median by > 1 % (%)", "linear"),
                     (9, "largest departure from the local median (%)", "log"),
                     (6, "rows > 1 % above the exact curve (%)", "linear"),
                     (7, "largest excursion above the exact curve (%)", "log")]


def _smoothness_figure(ex, rows):
    """VCA against VQA at L = 3, 5, 6 (Table I, Adam): the four measures, every run a dot, the median a bar."""
    sel = standard_rows(rows)
    if not sel:
        return
    fig = figure((9, 6.4))
    for k, (col, label, scale) in enumerate(SMOOTHNESS_PANELS):
        ax = fig.add_subplot(2, 2, k + 1)
        for j, mode in enumerate(("vca", "vqa")):
            for i, L in enumerate((3, 5, 6)):
                y = 100 * np.array([r[col] for r in sel if r[1] == mode and r[2] == L], dtype=float)
                y = y[~np.isnan(y)]
                if not len(y):
                    continue
                x = i + 0.18 * (2 * j - 1)
                ax.plot(x + np.linspace(-0.04, 0.04, len(y)), y, "o", color=f"C{j}", alpha=0.7, ms=4,
                        label=f"{mode.upper()} (one dot per seed)" if i == 0 and k == 0 else None)
                ax.plot([x - 0.08, x + 0.08], [np.median(y)] * 2, "-", color=f"C{j}", lw=2)
        ax.set_xticks(range(3))
        ax.set_xticklabels(["L = 3", "L = 5", "L = 6"])
        ax.set_xlim(-0.5, 2.5)
        if scale == "log":
            readable_log_axis(ax)
        else:
            ax.set_ylim(bottom=0)
        ax.set_ylabel(label, fontsize=9)
        ax.set_title("abcd"[k], loc="left", fontsize=10, fontweight="bold")
    fig.axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle("Table I anneals, Adam: VCA (F against F(T)) and VQA (E against e0(Γ)); bar: median of seeds",
                 fontsize=9)
    fig.tight_layout()
    ex.save(fig, "_smoothness")


if __name__ == "__main__":
    main()
