"""Adam against SR at Table I (issue 27 §5): success, ground-state fraction and coverage, smoothness.

Used by ``trainability.py`` (its groups ``<arm>_<mode><L>``, e.g. ``sr_vca6``, ``sr_matched_vca16``, make the SR
runs; ``--groups sr_report`` makes this table alone from the finished runs). For each size the SR runs
``<arm>_<mode>_L<L>_s<seed>`` (:data:`SR_ARMS`: the pilot's lr, or the lr that gives the pilot's step,
:func:`arm_lr`) stand beside the plain Adam runs ``<mode>_L<L>_s<seed>`` of the same seeds. Per run: whether
the ground-state energy is in the final sample (success), the final E/N and residual energy, the ground-state
fraction, the distinct and effective ground states in the run's final 10^5 samples (``nm_tf.modes.analyse``; the
stored ``samples_final.npz``, else 10^5 fresh samples of seed 0 from the final weights), and the smoothness
measures of ``trainability.smoothness`` where the run kept its history. Writes ``trainability_sr.csv`` (one row
per run), ``trainability_sr_summary.csv`` (per size and optimizer: successes, means and their standard errors),
``trainability_sr_tests.csv`` (each SR arm against Adam: :func:`compare`) and ``trainability_sr.{png,pdf}``.
"""

import math
import warnings

import numpy as np
from common import figure, readable_log_axis

SAMPLES = 100_000
PILOT = ("vca", 6)       # the SR pilot's mode and L (trainability.py's sr_pilot group): the lr is chosen there
SR_ARMS = ("sr", "sr_matched")
SIZES = (("vca", 6, 5, ("sr",)), ("vqa", 5, 5, ("sr", "sr_matched")),   # (mode, L, seeds, SR arms); at the
         ("vca", 16, 3, ("sr", "sr_matched")))                           # pilot's size the two arms coincide
HEADER = ["mode", "L", "optimizer", "seed", "run", "success", "energy_per_spin", "residual_energy_per_spin",
          "ground_state_fraction", "distinct_ground_states", "degeneracy", "effective_ground_states",
          "above_exact", "max_excursion", "spikes", "max_spike", "wall_seconds", "samples", "lr", "outcome",
          "main_level_broken", "main_level_share", "main_level_distinct", "main_level_effective"]
LEVEL = HEADER[-4:]
OUTCOME = HEADER.index("outcome")
MEASURES = HEADER[5:16]
LABELS = {"adam": "Adam", "sr": "SR, the pilot's lr", "sr_matched": "SR, the pilot's step (lr scaled)"}


def sr_run(mode: str, L: int, seed: int, arm: str = "sr") -> str:
    """The SR run's name: its Adam twin's with the arm (``sr_``, ``sr_matched_``) in front."""
    return f"{arm}_{mode}_L{L}_s{seed}"


def arm_lr(arm: str, mode: str, L: int, pilot_lr: float) -> float:
    """The arm's lr. ``sr``: the pilot's. ``sr_matched``: the lr that gives the pilot's step, by two factors.
    (1) VQA's S is the quantum geometric tensor, 1/4 of the Fisher matrix of p, while its gradient is the full one,
    so at one lr its step is 4x VCA's in Fisher distance: times S's factor (1/4). (2) The loss is extensive, and
    SR, unlike Adam, is not invariant to its scale: the step follows the spread of the local losses (at the pilot's
    lr, warm-up steps 570-670 at T = 10: median step norm 8.8 at L = 16 against 2.3 at L = 6, local losses spread
    over 16 against 5; at L = 16 the hidden states then grow until they overflow float32, at T = 7-8): times
    N_pilot / N, the pilot's lr for the loss per spin."""
    from nm_tf.annealing.sr import QGT_FACTOR

    if arm == "sr":
        return pilot_lr
    return pilot_lr * (QGT_FACTOR[mode == "vqa"] / QGT_FACTOR[PILOT[0] == "vqa"] * PILOT[1] ** 2 / L ** 2)


def run_names():
    """``[(mode, L, seed, optimizer, run name)]`` of the comparison (optimizer: ``adam`` or an SR arm), Adam first."""
    out = []
    for mode, L, seeds, arms in SIZES:
        for seed in range(seeds):
            out.append((mode, L, seed, "adam", f"{mode}_L{L}_s{seed}"))
            out += [(mode, L, seed, arm, sr_run(mode, L, seed, arm)) for arm in arms]
    return out


def coverage(workdir, L) -> dict:
    from nm_tf.modes.analysis import analyse
    from nm_tf.modes.sources import samples_from_run

    bits, _, source = samples_from_run(workdir, SAMPLES)
    s = analyse(bits, L)
    return {"ground_state_fraction": s["ground_state_fraction"], "distinct_ground_states": s["distinct_ground_states"],
            "degeneracy": s["degeneracy"],   # no ground state sampled: no effective number (nan, not 0)
            "effective_ground_states": s["effective_ground_states"] if s["distinct_ground_states"] else math.nan,
            "samples": "stored" if "samples_final" in str(source) else "fresh, seed 0", **main_level(bits, L)}


def main_level(bits, L) -> dict:
    """Where a run's samples sit: the number of broken triangles most samples have (0: the ground states), the
    share of samples with that many, and the distinct and effective (exp of the entropy) configurations among them:
    a run that ends excited may sit on one state of that level or spread over many."""
    from nm_tf.hamiltonian import triangle_parities
    from nm_tf.modes.analysis import effective_number

    bits = np.asarray(bits).reshape(len(bits), -1)
    broken = np.sum(np.asarray(triangle_parities(bits, L)) == 0, axis=1)
    level = int(np.bincount(broken).argmax())
    _, counts = np.unique(bits[broken == level], axis=0, return_counts=True)
    return {"main_level_broken": level, "main_level_share": float(np.mean(broken == level)),
            "main_level_distinct": len(counts), "main_level_effective": effective_number(counts)}


def table(ex, smoothness_of) -> list:
    """One row per finished or diverged run of :func:`run_names` (``smoothness_of(rundir)``: the smoothness measures,
    or None for a run without history); a diverged run (``diverged.json``: it stopped on non-finite steps, and a
    resume would only repeat them) counts as a run without success and without measures, its ``outcome`` the step
    and temperature where it stopped; the runs not finished yet are listed in ``ex.pending``."""
    rows = []
    for mode, L, seed, optimizer, name in run_names():
        run = ex.rundir(name)
        if run.exists and not run.finished and (d := run.diverged()):
            where = d["message"][d["message"].find("(step"):].split(")")[0] + ")" if "(step" in d["message"] else ""
            rows.append([mode, L, optimizer, seed, name, 0, *[math.nan] * 10, None, "—", run.config().lr,
                         f"diverged {where}".strip(), *[math.nan] * len(LEVEL)])
            ex.used.append(name)
            continue
        if not run.finished:
            ex.pending.append(name)
            continue
        s = run.summary()
        m = smoothness_of(run) or {}
        c = coverage(run.path, L)
        rows.append([mode, L, optimizer, seed, name, int(bool(s["ground_state_in_final_sample"])),
                     s["energy_per_spin_mean"], s["residual_energy_per_spin"], c["ground_state_fraction"],
                     c["distinct_ground_states"], c["degeneracy"], c["effective_ground_states"],
                     *[m.get(k, math.nan) for k in ("above_exact", "max_excursion", "spikes", "max_spike")],
                     s.get("wall_seconds"), c["samples"], run.config().lr, "finished", *[c[k] for k in LEVEL]])
        ex.used.append(name)
    return rows


def summarise(rows) -> list:
    """Per (mode, L, optimizer): the number of runs, successes, the mean and standard error of each measure over the
    runs that have it (nan-aware: Adam runs kept without history have no smoothness, diverged runs nothing) and,
    last, the number of diverged runs."""
    out = []
    for mode, L, _, arms in SIZES:
        for optimizer in ("adam",) + arms:
            sel = np.array([r[5:16] for r in rows if (r[0], r[1], r[2]) == (mode, L, optimizer)], dtype=float)
            if not len(sel):
                continue
            n = np.sum(~np.isnan(sel), axis=0)
            with warnings.catch_warnings():            # a measure no run has (every run diverged): nan, quietly
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(sel, axis=0)
            sem = np.array([np.nanstd(sel[:, k], ddof=1) / math.sqrt(c) if c > 1 else math.nan
                            for k, c in enumerate(n)])
            diverged = sum(r[OUTCOME].startswith("diverged") for r in rows
                           if (r[0], r[1], r[2]) == (mode, L, optimizer))
            out.append([mode, L, optimizer, len(sel), int(sel[:, 0].sum()), *mean, *sem, diverged])
    return out


PANELS = [(7, "residual energy per spin", "log"), (8, "ground-state fraction", "linear"),
          (11, "effective ground states (of D)", "linear"), (13, "largest excursion above the exact curve (%)", "log")]


def draw(ex, rows):
    """One panel per measure; per size Adam (blue) and the SR arms (orange, green) side by side, a dot per seed (a
    cross: no ground state in the final sample), the median a bar; runs that diverged are counted in writing."""
    from matplotlib.lines import Line2D

    fig = figure((9, 6.8))
    sizes = [(m, L) for m, L, _, _ in SIZES]
    colours = {o: f"C{j}" for j, o in enumerate(("adam",) + SR_ARMS)}
    for k, (col, label, scale) in enumerate(PANELS):
        ax = fig.add_subplot(2, 2, k + 1)
        for i, (mode, L, _, arms) in enumerate(SIZES):
            for j, optimizer in enumerate(("adam",) + arms):
                centre = i + 0.36 * (j - (len(arms)) / 2) / max(len(arms), 1)
                sel = [r for r in rows if (r[0], r[1], r[2]) == (mode, L, optimizer)]
                diverged = sum(r[OUTCOME].startswith("diverged") for r in sel)
                if diverged:
                    ax.annotate(f"{diverged} of {len(sel)} diverged", xy=(centre, 0.03), rotation=90, ha="center",
                                xycoords=("data", "axes fraction"), va="bottom", fontsize=7, color=colours[optimizer])
                y = np.array([r[col] for r in sel], dtype=float) * (100 if col == 13 else 1)
                ok = np.array([r[5] for r in sel], dtype=bool)
                keep = ~np.isnan(y)
                if scale == "log":
                    keep &= y > 0
                if not keep.any():
                    continue
                x = centre + np.linspace(-0.04, 0.04, len(y))
                for marker, mask in (("o", ok & keep), ("x", ~ok & keep)):
                    ax.plot(x[mask], y[mask], marker, color=colours[optimizer], alpha=0.7, ms=5)
                ax.plot([centre - 0.08, centre + 0.08], [np.median(y[keep])] * 2, "-", color=colours[optimizer], lw=2)
        ax.set_xticks(range(len(sizes)))
        degeneracy = {(r[0], r[1]): r[10] for r in rows if not math.isnan(r[10])}
        ax.set_xticklabels([f"{m.upper()} L = {L}" + (f"\n(D = {degeneracy[m, L]})" if (m, L) in degeneracy else "")
                            for m, L in sizes], fontsize=9)
        ax.set_xlim(-0.5, len(sizes) - 0.5)
        if scale == "log":
            readable_log_axis(ax)
        ax.set_ylabel(label, fontsize=9)
        ax.set_title("abcd"[k], loc="left", fontsize=10, fontweight="bold")
    present = [o for o in colours if any(r[2] == o for r in rows)]
    handles = [Line2D([], [], marker="o", ls="", color=colours[o], label=LABELS[o]) for o in present]
    handles.append(Line2D([], [], marker="x", ls="", color="0.4", label="no ground state in the final sample"))
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8, bbox_to_anchor=(0.5, 0.965))
    fig.suptitle("Adam against SR at Table I (the same seeds); a dot per seed, bar: median", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    ex.save(fig, "_sr")


TESTED = ("residual_energy_per_spin", "ground_state_fraction", "effective_ground_states", "above_exact",
          "max_excursion", "max_spike")
TESTS_HEADER = ["mode", "L", "arm", "measure", "adam_runs", "adam_min", "adam_max", "sr_runs", "sr_min", "sr_max",
                "p_value", "test"]


def compare(rows) -> list:
    """Each SR arm against Adam at its size: success by Fisher's exact test (a diverged run is a failure), each
    measure of :data:`TESTED` by the exact two-sided Mann-Whitney test over the runs that have it (2 or more a side;
    with 5 + 5 runs the smallest p is 0.008). One row per (size, arm, measure): the two ranges and p (for success,
    min and max are both the number of successes)."""
    from scipy.stats import fisher_exact, mannwhitneyu

    out = []
    for mode, L, _, arms in SIZES:
        adam = [r for r in rows if (r[0], r[1], r[2]) == (mode, L, "adam")]
        for arm in arms:
            sr = [r for r in rows if (r[0], r[1], r[2]) == (mode, L, arm)]
            if not adam or not sr:
                continue
            a, b = sum(r[5] for r in adam), sum(r[5] for r in sr)
            p = fisher_exact([[a, len(adam) - a], [b, len(sr) - b]]).pvalue
            out.append([mode, L, arm, "success", len(adam), a, a, len(sr), b, b, p, "Fisher exact, two-sided"])
            for measure in TESTED:
                col = HEADER.index(measure)
                x = np.array([r[col] for r in adam], dtype=float)
                y = np.array([r[col] for r in sr], dtype=float)
                x, y = x[~np.isnan(x)], y[~np.isnan(y)]
                if len(x) < 2 or len(y) < 2:
                    continue
                p = mannwhitneyu(x, y, alternative="two-sided", method="exact").pvalue
                out.append([mode, L, arm, measure, len(x), x.min(), x.max(), len(y), y.min(), y.max(), p,
                            "Mann-Whitney exact, two-sided"])
    return out


def study(ex, smoothness_of):
    """The table, its summary, the tests and the figure from the finished runs; prints Markdown tables."""
    rows = table(ex, smoothness_of)
    ex.write_csv("_sr", HEADER, rows)
    summary = summarise(rows)
    ex.write_csv("_sr_summary", ["mode", "L", "optimizer", "runs", "successes"] + [f"{h}_mean" for h in MEASURES]
                 + [f"{h}_sem" for h in MEASURES] + ["diverged"], summary)
    tests = compare(rows)
    ex.write_csv("_sr_tests", TESTS_HEADER, tests)
    if rows:
        draw(ex, rows)
    print("\n| size | SR arm | measure | Adam (runs: min–max) | SR (runs: min–max) | p |")
    print("|---|---|---|---|---|---|")
    for t in tests:
        print(f"| {t[0].upper()} L = {t[1]} | {t[2]} | {t[3]} | {t[4]}: {t[5]:.4g}–{t[6]:.4g} | "
              f"{t[7]}: {t[8]:.4g}–{t[9]:.4g} | {t[10]:.3g} |")
    print("\n| size | optimizer | runs | success | residual E/N | ground-state fraction | effective GS (of D) | "
          "largest excursion (%) |")
    print("|---|---|---|---|---|---|---|---|")
    k = len(MEASURES)
    for r in summary:
        mean, sem = r[5:5 + k], r[5 + k:5 + 2 * k]
        diverged = f" ({r[-1]} diverged)" if r[-1] else ""
        print(f"| {r[0].upper()} L = {r[1]} | {r[2]} | {r[3]} | {r[4]}/{r[3]}{diverged} | "
              f"{_pm(mean[2], sem[2], '.2e', '.1e')} | "
              f"{_pm(mean[3], sem[3], '.4f')} | {_pm(mean[6], sem[6], '.2f')}"
              f"{'' if math.isnan(mean[5]) else f' (of {mean[5]:.0f})'} | "
              f"{_pm(100 * mean[8], 100 * sem[8], '.2f')} |")
    return rows


def _pm(mean, sem, fmt, sem_fmt=None) -> str:
    """``mean ± sem``; the mean alone for one run (no spread), a dash where no run has the measure."""
    if math.isnan(mean):
        return "—"
    return f"{mean:{fmt}}" if math.isnan(sem) else f"{mean:{fmt}} ± {sem:{sem_fmt or fmt}}"
