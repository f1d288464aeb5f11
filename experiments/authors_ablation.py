"""Why the paper saw mode collapse: the authors' public code as options, and an ablation one factor at a time.

    python experiments/authors_ablation.py --preset paper --out ~/nm-paper --jobs 2 [--groups a,b] [--seeds 3,4]
                                           [--finished-only]
    python experiments/authors_ablation.py --preset quick                       # minutes: the same groups, short

The authors' code (github.com/smorawetz/Tensorflow-VQA) differs from the paper's text and from our defaults in
the ordering (raster with the previous row's last site as a row's first horizontal input: ``raster-wrap``),
the learning rate (1e-3), the local losses (computed once per training step and reused by the 10 mini-batch
updates: ``stale``), the numerics (their initialisation, float64, a 1e-8 floor on every conditional) and the
VQA baseline (1/4 of the mean). ``--preset authors`` (nm-tf) sets all of them. Groups of runs (Table I
otherwise, 5 seeds each):

- ``authors_vca`` (L = 3, 6), ``authors_vqa`` (L = 3, 5): the authors' protocol; ``default_vqa``: our VQA at
  L = 3 (the committed ``vqa_L3_s*``) beside it, and at L = 6 (``vqa_L6_s*``: which ground state VQA keeps);
- from our default at VCA L = 6, one factor at a time: ``wrap`` (ordering), ``lr3`` (lr 1e-3), ``stale``
  (local losses), ``numerics`` (their initialisation, float64 and the floor); the default itself is the
  committed ``vca_L6_s*``; and ``raster`` (raster rows without the wrap input), which tells the row direction
  from the wrap input;
- from the authors' protocol at VCA L = 6, one factor reverted to ours: ``authors_no_<factor>``;
- the authors' protocol in zigzag (``authors_no_wrap``, which still collapses) with one more factor reverted:
  ``authors_zigzag_no_<factor>`` (lr3, stale, numerics), to name what collapses it without the wrap input.

Measured per run, from 10^5 fresh samples of p_theta (seed 0): success (a final sample at the ground-state
energy), ground-state fraction, distinct and effective ground states, the trivial state's share of the
ground-state samples, and the top configuration's share in the first 100 and in all 10^5 samples (the
authors looked at their last 100 training samples). Writes authors_ablation.csv, _summary.csv, .png/.pdf.
"""

import math

import numpy as np
from common import Experiment, choose_groups, figure, parser, seed_of
from nm_tf.annealing.config import PRESETS

SEEDS = 5
SAMPLES = 100_000
AUTHORS = dict(PRESETS["authors"], preset="authors")
OURS = {"ordering": "zigzag", "lr": 1e-4, "local_loss": "fresh", "init": "glorot", "dtype": "float32",
        "prob_floor": 0.0, "vqa_baseline_scale": 1.0}
FACTORS = {"wrap": ("ordering",), "lr3": ("lr",), "stale": ("local_loss",),
           "numerics": ("init", "dtype", "prob_floor")}
FACTOR_LABELS = {"wrap": "raster-wrap", "lr3": "lr 1e-3", "stale": "stale losses", "numerics": "init+f64+floor"}
REVERTED = {"wrap": "ordering → zigzag", "lr3": "lr → 1e-4", "stale": "losses → fresh", "numerics": "numerics → ours"}


def groups(ex):
    """``{group: [(mode, L, task), ...]}`` in the order the runs should be made (seed by seed across groups,
    so that a partial pool already compares the factors)."""
    out = {}
    quick = ex.preset == "quick"
    for seed in range(SEEDS):
        out.setdefault("default", []).append(("vca", 6, ex.standard("vca", 6, seed)))
        out.setdefault("authors_vca", []).append(
            ("vca", 6, ex.task(f"authors_vca_L6_s{seed}", ex.config("vca", 6, seed, **_authors(quick)))))
        out.setdefault("raster", []).append(
            ("vca", 6, ex.task(f"raster_L6_s{seed}", ex.config("vca", 6, seed, ordering="raster"))))
        for name, fields in FACTORS.items():
            change = {f: AUTHORS[f] for f in fields}
            out.setdefault(name, []).append(
                ("vca", 6, ex.task(f"{name}_L6_s{seed}", ex.config("vca", 6, seed, **change))))
            back = dict(_authors(quick), **{f: OURS[f] for f in fields})
            out.setdefault(f"authors_no_{name}", []).append(
                ("vca", 6, ex.task(f"authors_no_{name}_L6_s{seed}", ex.config("vca", 6, seed, **back))))
        # The authors' protocol still collapses in zigzag (authors_no_wrap): which of its other factors does it?
        # Each reverted on top of the zigzag ordering.
        for name, fields in FACTORS.items():
            if name == "wrap":
                continue
            back = dict(_authors(quick), ordering=OURS["ordering"], **{f: OURS[f] for f in fields})
            out.setdefault(f"authors_zigzag_no_{name}", []).append(
                ("vca", 6, ex.task(f"authors_zigzag_no_{name}_L6_s{seed}", ex.config("vca", 6, seed, **back))))
    # Our VQA at L = 3 beside the authors' (the committed vqa_L3_s*: Table I, our defaults). At L = 5 there is a
    # single ground state, so only success can differ; the committed vqa_L5_s* summaries answer that. At L = 6
    # (vqa_L6_s*): does our VQA collapse as the paper's did, and onto which state?
    out["default_vqa"] = [("vqa", L, ex.standard("vqa", L, seed)) for L in (3, 6) for seed in range(SEEDS)]
    for mode, L in (("vca", 3), ("vqa", 3), ("vqa", 5)):
        out.setdefault(f"authors_{mode}", [])
        for seed in range(SEEDS):
            out[f"authors_{mode}"].append(
                (mode, L, ex.task(f"authors_{mode}_L{L}_s{seed}", ex.config(mode, L, seed, **_authors(quick)))))
    return out


def _seeds(text):
    if text is None:
        return None
    try:
        seeds = {int(x) for x in text.split(",")}
    except ValueError:
        raise SystemExit(f"--seeds takes comma-separated integers, got {text!r}") from None
    if not seeds <= set(range(SEEDS)):
        raise SystemExit(f"--seeds: every group has seeds 0-{SEEDS - 1}, got {text!r}")
    return seeds


def _authors(quick: bool) -> dict:
    """The preset's fields; the quick protocol keeps its own learning rate and has no mini-batches, so its
    stale variant needs them set."""
    fields = dict(AUTHORS)
    if quick:
        fields.update(lr=2e-3)
    return fields


def measure(task, L):
    from nm_tf.modes.analysis import analyse
    from nm_tf.modes.sources import samples_from_run

    bits, _, _ = samples_from_run(task.workdir, SAMPLES, seed=0)
    s = analyse(bits, L)
    counts = np.array(s.get("ground_state_counts") or [0])
    _, top = np.unique(bits, axis=0, return_counts=True)
    _, top100 = np.unique(bits[:100], axis=0, return_counts=True)
    return {"ground_state_fraction": s["ground_state_fraction"], "distinct": s["distinct_ground_states"],
            "degeneracy": s["degeneracy"], "effective": s["effective_ground_states"] or 0.0,
            "trivial_share": float(counts[0] / counts.sum()) if counts.sum() else math.nan,
            "top_share_1e5": float(top.max() / len(bits)), "top_share_100": float(top100.max() / 100)}


def main():
    p = parser(__doc__, groups=True)
    p.add_argument("--seeds", default=None,
                   help="comma-separated seeds of the chosen groups (default: all); two processes can share a "
                        "group's seeds this way")
    args = p.parse_args()
    ex = Experiment(args, "authors_ablation")
    table = groups(ex)
    chosen = choose_groups(table, args.groups)
    seeds = _seeds(args.seeds)
    entries = [(g, m, L, t) for g in chosen for (m, L, t) in table[g] if seeds is None or seed_of(t) in seeds]
    # seed-major order across the chosen groups
    entries.sort(key=lambda e: (e[2] != 6 or e[1] != "vca", seed_of(e[3]), chosen.index(e[0])))
    summaries = ex.run_all([e[3] for e in entries], partial_ok=True)
    rows = []
    for group, mode, L, task in entries:
        if task.name not in summaries:
            continue
        s = summaries[task.name]
        m = measure(task, L)
        rows.append([group, mode, L, seed_of(task), int(bool(s["ground_state_in_final_sample"])),
                     m["ground_state_fraction"], m["distinct"], m["degeneracy"], m["effective"], m["trivial_share"],
                     m["top_share_100"], m["top_share_1e5"], s["wall_seconds"]])
        print(f"{task.name:>28}: fraction {m['ground_state_fraction']:.4f}, {m['distinct']}/{m['degeneracy']} ground "
              f"states (effective {m['effective']:.2f}), trivial share {m['trivial_share']:.3f}, top share "
              f"{m['top_share_100']:.2f} (100) {m['top_share_1e5']:.3f} (1e5)", flush=True)
    header = ["group", "mode", "L", "seed", "success", "ground_state_fraction", "distinct_ground_states",
              "degeneracy", "effective_ground_states", "trivial_share", "top_share_100", "top_share_1e5",
              "wall_seconds"]
    ex.write_csv("", header, rows)
    summary = []
    for group in chosen:
        for mode, L in sorted({(r[1], r[2]) for r in rows if r[0] == group}):
            sel = np.array([r[4:12] for r in rows if r[0] == group and r[1] == mode and r[2] == L], dtype=float)
            n = len(sel)
            # nan-aware: a run without ground states has no trivial share (it counts in success and fraction)
            counts = np.sum(~np.isnan(sel), axis=0)
            mean = np.nanmean(sel, axis=0)
            sem = np.array([np.nanstd(sel[:, k], ddof=1) / math.sqrt(c) if c > 1 else math.nan
                            for k, c in enumerate(counts)])
            summary.append([group, mode, L, n, *np.round(mean, 4), *np.round(sem, 4)])
    ex.write_csv("_summary", ["group", "mode", "L", "seeds"] + [f"{h}_mean" for h in header[4:12]]
                 + [f"{h}_sem" for h in header[4:12]], summary)
    _figure(ex, rows, chosen)
    print("\n| group | mode | L | seeds | success | ground-state fraction | distinct GS (mean) | effective GS "
          "(mean ± s.e.) | trivial share | top share, 100 | top share, 10^5 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in summary:
        k = 8
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4] * r[3]:.0f}/{r[3]} | {r[5]:.3f} | {r[6]:.1f} | "
              f"{r[8]:.2f} ± {r[4 + k + 4]:.2f} | {r[9]:.2f} | {r[10]:.2f} | {r[11]:.3f} |")
    ex.finish()


def _figure(ex, rows, chosen):
    """VCA L = 6: one row per group (ours + a factor in blue, the authors' protocol and its reverts in red), every
    seed as a dot (a cross: no ground state reached) and the mean as a bar, in four panels: effective ground
    states, the trivial state's share, the top configuration's share of 10^5 samples, the ground-state fraction."""
    l6 = [g for g in chosen if any(r[0] == g and r[1] == "vca" and r[2] == 6 for r in rows)]
    if not l6:
        return
    fig = figure((15, 0.42 * len(l6) + 2.2))
    panels = [(8, "effective ground states of p_θ (of 16)", 16.5),
              (9, "trivial state's share of the GS samples", 1.02),
              (11, "top configuration's share", 1.02),
              (5, "ground-state fraction", 1.02)]
    y = {g: len(l6) - 1 - i for i, g in enumerate(l6)}
    for k, (col, label, xmax) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        for g in l6:
            colour = "C3" if g.startswith("authors") else "C0"
            runs = [r for r in rows if r[0] == g and r[1] == "vca" and r[2] == 6]
            ok = [r[col] for r in runs if r[4] and not math.isnan(r[col])]
            failed = [r[col] for r in runs if not r[4] and not math.isnan(r[col])]
            ax.plot(ok, [y[g]] * len(ok), "o", color=colour, alpha=0.55, ms=6)
            ax.plot(failed, [y[g]] * len(failed), "x", color=colour, ms=7, mew=1.5)
            values = ok + failed
            if values:
                ax.plot([np.mean(values)] * 2, [y[g] - 0.3, y[g] + 0.3], "-", color="k", lw=2.5)
        ax.set_xlim(-0.02 * xmax, xmax)
        ax.set_ylim(-0.6, len(l6) - 0.4)
        ax.set_xlabel(label, fontsize=11)
        ax.set_yticks([y[g] for g in l6])
        ax.set_yticklabels([_label(g) for g in l6] if k == 0 else [], fontsize=11)
        ax.tick_params(axis="x", labelsize=10)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("VCA L = 6, Table I, 5 seeds per row (dot: a seed; ×: no ground state reached; bar: mean): our "
                 "default with one factor of the authors' code (blue), their protocol with factors reverted (red)",
                 fontsize=11)
    fig.tight_layout()
    ex.save(fig)


def _label(group: str) -> str:
    if group == "default":
        return "ours (default)"
    if group == "default_vqa":
        return "ours, VQA"
    if group == "authors_vca":
        return "authors (all five)"
    if group == "raster":
        return "ours + raster rows"
    if group.startswith("authors_zigzag_no_"):
        return f"authors, zigzag, {REVERTED[group[len('authors_zigzag_no_'):]]}"
    if group.startswith("authors_no_"):
        return f"authors, {REVERTED[group[len('authors_no_'):]]}"
    return f"ours + {FACTOR_LABELS[group]}"


if __name__ == "__main__":
    main()
