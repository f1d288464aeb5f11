"""Does a cell that sees the triangle learn every ground state? (issue 33)

    python experiments/triangle_study.py --preset paper --out ~/nm-paper --jobs 2 [--groups a,b] [--finished-only]
    python experiments/triangle_study.py --preset quick                      # minutes: the same groups, short

A ground state satisfies every triangle parity, b(x, y) = 1 + b(x, y-1) + b(x+1, y-1) (mod 2), so a conditional
that sees both upper parents of a site can express "the rows after the first follow from the row above" with
local information. ``--cell triangle`` feeds the hidden state and spin of (x, y-1) and (x+1 mod L, y-1) beside
the horizontal predecessor's. Groups (Table I otherwise):

- ``triangle_vca``: VCA at L = 6, 7 (5 seeds) and 12 (3 seeds) with the triangle cell;
- ``triangle_vqa``: VQA at L = 6, 3 seeds;
- ``vanilla_vca``, ``vanilla_vqa``: the committed Table I runs ``vca_L{6,7,12}_s*``, ``vqa_L6_s*`` beside them
  (the same seeds).

Measured per run from 10^5 fresh samples of p_theta itself (seed 0, no symmetrisation): success (a final sample
at the ground-state energy), ground-state fraction, distinct and effective ground states, KL of the empirical
ground-state distribution to uniform, the chi-square p-value of the ground-state counts against uniform, the
trivial state's share of the ground-state samples, the exact probability of the least likely ground state, and
where the samples that miss fail: ``rule_broken`` (a triangle anchored in rows 0..L-2 is unsatisfied: some row
after the first does not follow from the row above) and ``first_row_only`` (every row follows from the row above
but the wrap-around triangles of row L-1 are not all satisfied: the first row is not one of a ground state).
Writes triangle.csv, triangle_summary.csv and triangle.{png,pdf}.
"""

import math

import numpy as np
from common import Experiment, choose_groups, figure, parser, seed_of

SAMPLES = 100_000
SIZES = {"paper": ({6: 5, 7: 5, 12: 3}, {6: 3}),    # (VCA {L: seeds}, VQA {L: seeds})
         "quick": ({3: 2, 6: 2}, {3: 1})}


def groups(ex):
    """``{group: [(mode, L, task), ...]}``: small sizes and low seeds first, so a partial pool already
    compares the cells."""
    out = {"triangle_vca": [], "vanilla_vca": [], "triangle_vqa": [], "vanilla_vqa": []}
    vca, vqa = SIZES[ex.preset]
    for L, seeds in vca.items():
        for seed in range(seeds):
            out["triangle_vca"].append(("vca", L, ex.task(f"triangle_vca_L{L}_s{seed}",
                                                          ex.config("vca", L, seed, cell="triangle"))))
            out["vanilla_vca"].append(("vca", L, ex.standard("vca", L, seed)))
    for L, seeds in vqa.items():
        for seed in range(seeds):
            out["triangle_vqa"].append(("vqa", L, ex.task(f"triangle_vqa_L{L}_s{seed}",
                                                          ex.config("vqa", L, seed, cell="triangle"))))
            out["vanilla_vqa"].append(("vqa", L, ex.standard("vqa", L, seed)))
    return out


def measure(task, L):
    from nm_tf.hamiltonian import triangle_parities
    from nm_tf.modes.analysis import analyse
    from nm_tf.modes.sources import samples_from_run

    bits, _, _, log_prob = samples_from_run(task.workdir, SAMPLES, seed=0, with_log_prob=True)
    s = analyse(bits, L, log_prob=log_prob)
    counts = np.array(s.get("ground_state_counts") or [0])
    # triangle t = x + L*y ties row y + 1 to row y (lattice.triangles); parity 1 = satisfied
    unsatisfied = (triangle_parities(bits, L) == 0).reshape(len(bits), L, L).any(axis=2)
    rule_broken = unsatisfied[:, :-1].any(axis=1)
    return {"ground_state_fraction": s["ground_state_fraction"], "distinct": s["distinct_ground_states"],
            "degeneracy": s["degeneracy"], "effective": s["effective_ground_states"] or 0.0,
            "kl": s["kl_to_uniform"] if s["kl_to_uniform"] is not None else math.nan,
            "p_value": s["uniformity_p_value"] if s["uniformity_p_value"] is not None else math.nan,
            "trivial_share": float(counts[0] / counts.sum()) if counts.sum() else math.nan,
            "min_p": s.get("min_ground_state_probability", math.nan),
            "rule_broken": float(rule_broken.mean()),
            "first_row_only": float((~rule_broken & unsatisfied[:, -1]).mean())}


HEADER = ["group", "mode", "L", "seed", "success", "ground_state_fraction", "distinct_ground_states",
          "degeneracy", "effective_ground_states", "kl_to_uniform", "uniformity_p_value", "trivial_share",
          "min_ground_state_probability", "rule_broken", "first_row_only", "wall_seconds",
          "wall_ms_per_step"]


def main():
    args = parser(__doc__, groups=True).parse_args()
    ex = Experiment(args, "triangle")
    table = groups(ex)
    chosen = choose_groups(table, args.groups)
    entries = [(g, m, L, t) for g in chosen for (m, L, t) in table[g]]
    entries.sort(key=lambda e: (e[1] == "vqa", e[2], seed_of(e[3]), chosen.index(e[0])))
    summaries = ex.run_all([e[3] for e in entries], partial_ok=True)
    rows = []
    for group, mode, L, task in entries:
        if task.name not in summaries:
            continue
        s = summaries[task.name]
        cfg = ex.rundir(task.name).config()
        steps = cfg.warmup + cfg.annealing_steps * cfg.train_steps
        m = measure(task, L)
        rows.append([group, mode, L, seed_of(task), int(bool(s["ground_state_in_final_sample"])),
                     m["ground_state_fraction"], m["distinct"], m["degeneracy"], m["effective"], m["kl"],
                     m["p_value"], m["trivial_share"], m["min_p"], m["rule_broken"], m["first_row_only"],
                     s["wall_seconds"], 1000 * s["wall_seconds"] / steps])
        print(f"{task.name:>24}: fraction {m['ground_state_fraction']:.4f}, {m['distinct']}/{m['degeneracy']} ground "
              f"states (effective {m['effective']:.2f}, KL {m['kl']:.3f}, chi2 p {m['p_value']:.2g}), misses: rule "
              f"{m['rule_broken']:.4f}, first row only {m['first_row_only']:.4f}, trivial share "
              f"{m['trivial_share']:.3f}", flush=True)
    ex.write_csv("", HEADER, rows)
    summary = []
    stats = HEADER[4:]
    for group in chosen:
        for mode, L in sorted({(r[1], r[2]) for r in rows if r[0] == group}):
            sel = np.array([r[4:] for r in rows if r[0] == group and r[1] == mode and r[2] == L], dtype=float)
            counts = np.sum(~np.isnan(sel), axis=0)
            mean = np.nanmean(sel, axis=0)
            sem = np.array([np.nanstd(sel[:, k], ddof=1) / math.sqrt(c) if c > 1 else math.nan
                            for k, c in enumerate(counts)])
            summary.append([group, mode, L, len(sel), *np.round(mean, 5), *np.round(sem, 5)])
    ex.write_csv("_summary", ["group", "mode", "L", "seeds"] + [f"{h}_mean" for h in stats]
                 + [f"{h}_sem" for h in stats], summary)
    _figure(ex, rows, chosen)
    i = {h: 4 + k for k, h in enumerate(stats)}
    n = len(stats)
    print("\n| group | mode | L | seeds | success | ground-state fraction | distinct GS per seed | effective GS "
          "(mean ± s.e.) | KL to uniform (mean) | trivial share per seed | ms/step |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in summary:
        per = [x for x in rows if x[0] == r[0] and x[1] == r[1] and x[2] == r[2]]
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[i['success']] * r[3]:.0f}/{r[3]} | "
              f"{r[i['ground_state_fraction']]:.3f} | {', '.join(str(x[6]) for x in per)} of {per[0][7]} | "
              f"{r[i['effective_ground_states']]:.2f} ± {r[i['effective_ground_states'] + n]:.2f} | "
              f"{r[i['kl_to_uniform']]:.3f} | {', '.join(f'{x[11]:.2f}' for x in per)} | "
              f"{r[i['wall_ms_per_step']]:.1f} |")
    ex.finish()


CELLS = {"triangle": ("C0", -0.15, "triangle cell"), "vanilla": ("C1", 0.15, "vanilla cell (committed Table I runs)")}


def _figure(ex, rows, chosen):
    """Per size: the triangle cell (left) against the vanilla cell (right), every seed a point, the mean a bar."""
    sizes = sorted({(r[1], r[2]) for r in rows})
    if not sizes:
        return
    fig = figure((13, 3.8))
    panels = [(lambda r: r[8] / r[7], "effective ground states / degeneracy"),
              (lambda r: r[9], "KL(empirical GS | uniform) [nats]"),
              (lambda r: r[5], "ground-state fraction")]
    for k, (value, label) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1)
        labelled = set()
        for g in chosen:
            colour, offset, name = CELLS[g.split("_")[0]]
            for i, (mode, L) in enumerate(sizes):
                y = [value(r) for r in rows if r[0] == g and (r[1], r[2]) == (mode, L)]
                y = [v for v in y if not math.isnan(v)]
                if not y:
                    continue
                x = i + offset
                ax.plot([x] * len(y), y, "o", color=colour, alpha=0.5, ms=4)
                ax.plot([x - 0.1, x + 0.1], [np.mean(y)] * 2, "-", color=colour, lw=2.5,
                        label=None if name in labelled else name)
                labelled.add(name)
        ax.set_xticks(range(len(sizes)))
        ax.set_xticklabels([f"{m.upper()} L={L}" for m, L in sizes], fontsize=8)
        ax.set_ylabel(label, fontsize=9)
        if k == 1:
            for i, (mode, L) in enumerate(sizes):   # log D: one state only
                deg = next(r[7] for r in rows if (r[1], r[2]) == (mode, L))
                ax.plot([i - 0.4, i + 0.4], [math.log(deg)] * 2, ":", color="grey", lw=1,
                        label="ln D: a single ground state" if i == 0 else None)
        ax.legend(fontsize=7)
    fig.suptitle("Triangle cell against the vanilla cell (Table I; p_θ itself, 10⁵ samples per seed; dots: seeds, "
                 "bars: means)",
                 fontsize=10)
    fig.tight_layout()
    ex.save(fig)


if __name__ == "__main__":
    main()
