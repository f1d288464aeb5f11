"""Why F overshoots the exact curve at low T and snaps back (issue 27): energy or entropy, lag or ansatz?

    python experiments/overshoot.py --preset paper --out ~/nm-paper --jobs 1 [--groups speed] [--finished-only]
    python experiments/overshoot.py --preset quick                       # minutes: L = 4, short anneals

Every VCA anneal records per step its free energy F = <E> - T S, its energy <E> and its entropy S = -<ln p> (per
spin, 100-sample estimates), and the history has the exact F(T). The exact E(T) and S(T) come from the same exact
partition function (``nm_tf.exact.thermo``). So F's excess over the exact curve splits exactly into an energy part
and an entropy part,

    F - F_ex = (E - E_ex) - T (S - S_ex),

and the network's energy has an effective temperature T_eff, the one at which the exact equilibrium energy equals
it (E_ex(T_eff) = E; a network in equilibrium has T_eff = T). A network that falls behind the anneal (its
defects cannot annihilate as fast as T falls, as in a glass cooled too fast) keeps T_eff above T, with its energy
too high and its entropy too high; a network that cannot represent the Boltzmann distribution at T would miss it
whatever the speed. Group ``speed`` tells the two apart: VCA L = 6, seeds 0-2, Table I with 0.5, 1, 2 and 4 times
the annealing steps, keeping their weights along the anneal: a lag shrinks with a slower anneal, a limit of the
ansatz does not.

Group ``closing``: Table I at L = 16, seeds 0 and 1, with the closing cell and the curvature runs' kept points
(``closing_vca_L16_s*``), beside ``curv_vca_L16_s*``: does F still overshoot, does the closing row still stay
random, when the last row sees the row-0 spins it closes through?

Group ``thermal`` (no anneal): can the ansatz hold the Boltzmann distribution at the T where the anneal lags? A
fresh network (d_h = 40, vanilla, zigzag: the anneal's) is fitted by maximum likelihood to exact Boltzmann samples
at L = 16 (``nm_tf.representability.fit_boltzmann``; L = 2**k has exact independent samples) at T = 0.3, 0.2,
0.16, and set beside the annealed networks' kept weights at the same T: both KLs per spin (forward, the fit's;
reverse = (F - F_exact)/T, the anneal's), the energy, the entropy and the broken triangles of the closing row.
Kept in OUT/overshoot_fits/<name>/ (fit.json, model.weights.h5); writes overshoot_fits.csv. Group
``thermal_closing``: the same fits with the closing cell (``--cell closing``: the triangle cell whose last row also
sees the row-0 spins of the triangles that close the lattice), the vanilla fit's missing input.

Per run (every finished VCA run of the pool with a history: the Table I runs, the triangle cell, the curvature
runs, the speed runs), over a running median of 21 annealing rows: the largest relative excess of F and its T,
where it first exceeds 1 % (onset) and falls back below 1 % after the peak (back); at the peak the split of F's
excess, T_eff and the entropies. Writes overshoot.csv, overshoot_curves.csv (T_eff along the anneal) and
overshoot.{png,pdf}.
"""

import functools
import math
import re

import numpy as np
from common import Experiment, cached, choose_groups, figure, parser, running_median

SPEEDS = (0.5, 1.0, 2.0, 4.0)      # annealing steps relative to Table I's (1: Table I with kept weights)
SPEED_SEEDS = 3
HALF = 10                          # running median over 21 annealing rows
THRESHOLD = 0.01
VCA_RUN = re.compile(r"(vca|triangle_vca|curv_vca|closing_vca|speed[\d.]+)_L(\d+)_s(\d+)")
CLOSING_SEEDS = 2                  # group closing: the curvature runs' seeds, with the closing cell
ROW_SAMPLES = 2000                 # samples per kept point for the defects per row
FIT_L = 16                         # thermal fits: the size whose anneals kept their weights
FIT_TEMPERATURES = {"paper": (0.3, 0.2, 0.16), "quick": (0.4,)}
FIT_STEPS = {"paper": 30_000, "quick": 300}
# the fitted networks (d_h = 40, zigzag) and their rows' names; group "thermal" fits the anneal's cell, group
# "thermal_closing" the closing cell (its last row also sees the row-0 spins of the closing triangles)
FIT_CELLS = {"vanilla": "fit (maximum likelihood)", "closing": "fit, closing cell (maximum likelihood)"}
FIT_HEADER = ["network", "T", "T_kept", "kl_forward", "kl_forward_se", "kl_reverse", "kl_reverse_se", "energy",
              "energy_exact", "entropy", "entropy_exact", "broken_closing_row", "broken_row_L-2", "broken_bulk",
              "broken_row0", "steps", "wall_seconds"]
ROW_WINDOW = 0.6                   # kept points with T at most this (and the end)
HEADER = ["run", "family", "L", "seed", "annealing_steps", "peak_excess", "T_peak", "T_onset", "T_back",
          "dF", "dE", "minus_T_dS", "T_eff", "S", "S_exact", "E", "E_exact"]


def speed_name(factor: float, seed: int) -> str:
    return f"speed{factor:g}_L6_s{seed}"


def groups(ex):
    """The speed runs keep their weights every 1/20 of the anneal and every 1/500 while T <= 0.6 (about T = 0.5 and
    0.02 apart): the defects per row are sampled from them (1x: the Table I protocol, which keeping weights does
    not change; it should reproduce ``vca_L6_s0-2``)."""
    steps = ex.protocol()["annealing_steps"]
    tasks = []
    for f in SPEEDS:
        n = int(round(f * steps))
        tasks += [ex.task(speed_name(f, seed), ex.config("vca", 6, seed, annealing_steps=n,
                                                         trajectory_every=max(1, n // 20),
                                                         trajectory_dense=f"0:0.6:{max(1, n // 500)}"))
                  for seed in range(SPEED_SEEDS)]
    # The closing cell at L = 16 with the curvature runs' kept points (every 500 training steps, every 10 in
    # T = 0.1 ... 0.35): does F still overshoot when the last row sees the row-0 spins it closes through?
    keep = {"trajectory_every": 500, "trajectory_dense": "0.1:0.35:10"} if ex.preset == "paper" else \
        {"trajectory_every": max(1, steps // 4), "trajectory_dense": f"0:0.6:{max(1, steps // 50)}"}
    closing = [ex.task(f"closing_vca_L16_s{seed}", ex.config("vca", 16, seed, cell="closing", **keep))
               for seed in range(CLOSING_SEEDS)]
    return {"speed": tasks, "closing": closing}


@functools.lru_cache(maxsize=None)
def exact(L: int, T: float) -> dict:
    """The exact thermodynamics per spin at ``T``; at T = 0 its limit (an anneal whose excess peaks at its end)."""
    from nm_tf.exact import degeneracy
    from nm_tf.exact.thermo import thermodynamics
    from nm_tf.hamiltonian import ground_state_energy

    if T == 0:
        e0 = ground_state_energy(L) / (L * L)
        return {"energy": e0, "entropy": math.log(degeneracy(L)) / (L * L), "free_energy": e0}
    return dict(thermodynamics(L, T))


def effective_temperature(L: int, energy: float) -> float:
    """The T at which the exact equilibrium energy per spin equals ``energy`` (nan outside (E_ex(0.02), E_ex(50)))."""
    from scipy.optimize import brentq

    f = lambda t: exact(L, round(t, 6))["energy"] - energy          # noqa: E731
    lo, hi = 0.02, 50.0
    if not f(lo) < 0 < f(hi):
        return math.nan
    return float(brentq(f, lo, hi, xtol=1e-4))


def curves(run):
    """``(T, relative F excess, E, S)`` along the anneal, running medians of 21 rows."""
    rows = [r for r in run.history() if r.phase == "anneal" and r.exact_per_spin is not None]
    T = np.array([r.T for r in rows])
    F = np.array([r.loss_per_spin for r in rows])
    rel = (F - np.array([r.exact_per_spin for r in rows])) / np.abs([r.exact_per_spin for r in rows])
    E = np.array([r.energy_per_spin for r in rows])
    S = np.array([np.nan if r.entropy_per_spin is None else r.entropy_per_spin for r in rows], dtype=float)
    return T, running_median(rel, HALF), running_median(E, HALF), running_median(S, HALF)


def measure(run) -> dict:
    cfg = run.config()
    T, rel, E, S = curves(run)
    i = int(np.argmax(rel))
    over = np.flatnonzero(rel > THRESHOLD)
    back = [j for j in np.flatnonzero(rel < THRESHOLD) if j > i]
    t = float(T[i])
    ex = exact(cfg.L, round(t, 6))
    dE, dS = E[i] - ex["energy"], S[i] - ex["entropy"]
    return {"L": cfg.L, "annealing_steps": cfg.annealing_steps, "peak_excess": float(rel[i]), "T_peak": t,
            "T_onset": float(T[over[0]]) if len(over) else math.nan,
            "T_back": float(T[back[0]]) if back else math.nan,
            "dF": float(dE - t * dS), "dE": float(dE), "minus_T_dS": float(-t * dS),
            "T_eff": effective_temperature(cfg.L, float(E[i])), "S": float(S[i]), "S_exact": ex["entropy"],
            "E": float(E[i]), "E_exact": ex["energy"]}


def teff_curve(run, points: int = 60):
    """T_eff against T at ``points`` temperatures from T = 2 down (log-spaced), for the figure."""
    cfg = run.config()
    T, _, E, _ = curves(run)
    grid = np.geomspace(2.0, max(0.05, float(T.min()) + 1e-3), points)
    idx = [int(np.argmin(np.abs(T - g))) for g in grid]
    return [(float(T[i]), effective_temperature(cfg.L, float(E[i]))) for i in idx]


def row_defects(path: str) -> list:
    """``[[step, T, density of broken triangles in row 0, ..., row L - 1]]`` at every kept point of ``run`` with
    T <= ROW_WINDOW, from ROW_SAMPLES samples of the kept weights (seed ``[7, step]``). Triangle ``x + L y`` joins
    rows y and y + 1, so row L - 1's triangles close the lattice through row 0, the first row the network draws."""
    from nm_tf.hamiltonian import broken_by_row, triangle_parities
    from nm_tf.landscape.trajectory import load_trajectory
    from nm_tf.models.factory import build_model

    from nm_tf.annealing.rundir import RunDir

    cfg = RunDir(path).config()
    steps, T, _, weights = load_trajectory(path)
    model = build_model(cfg, jit_compile=False)
    out = []
    for step, t, w in zip(steps, T, weights):
        if t > ROW_WINDOW:
            continue
        model.rnn_cell.assign_weight_dict(w)
        bits, _ = model.sample(ROW_SAMPLES, seed=[7, int(step)])
        out.append([int(step), float(t), *broken_by_row(triangle_parities(bits.numpy().astype(np.uint8), cfg.L),
                                                        cfg.L).tolist()])
    return out


def fit_path(ex, T: float, cell: str):
    return ex.out / "overshoot_fits" / f"{cell}_zigzag_L{FIT_L}_T{T:g}"


def thermal_fit(ex, T: float, cell: str = "vanilla") -> dict:
    """The maximum-likelihood fit of a ``cell`` network at ``T`` (from its folder when done)."""
    import json

    from nm_tf.provenance import code_commit
    from nm_tf.representability import FitConfig, fit_boltzmann

    path = fit_path(ex, T, cell)
    if (path / "fit.json").exists():
        return json.loads((path / "fit.json").read_text())["result"]
    if ex.finished_only:
        ex.pending.append(path.name)
        return None
    cfg = FitConfig(L=FIT_L, cell=cell, seed=0, max_steps=FIT_STEPS[ex.preset], log_every=1000)
    print(f"{path.name}: fitting ({cfg.max_steps} steps)", flush=True)
    # a fit cut off (a session's end) continues from its checkpoints, which pool.py carries while it runs
    model, history, result = fit_boltzmann(cfg, T, checkpoint_dir=path / "checkpoints", progress=lambda i, kl: print(
        f"  {path.name} step {i}: KL(p_B || p_theta) {kl:.4f} per spin", flush=True))
    path.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(path / "model.weights.h5"))
    tmp = path / "fit.json.tmp"
    tmp.write_text(json.dumps({"config": {**cfg.__dict__, "T": T}, "result": result, "history": history,
                               "code_commit": code_commit()}, indent=1))
    tmp.replace(path / "fit.json")
    return result


def annealed_at(ex, name: str, T: float) -> dict:
    """:func:`nm_tf.representability.boltzmann_metrics` of run ``name``'s kept weights nearest ``T``, at that
    point's own T (held-out set: 10 000 exact samples, seed [0, 2**31 - 1], as the fits')."""
    from nm_tf.exact import boltzmann_samples
    from nm_tf.landscape.trajectory import load_trajectory
    from nm_tf.models.factory import build_model
    from nm_tf.representability import boltzmann_metrics

    run = ex.rundir(name)
    steps, Ts, _, weights = load_trajectory(run.path)
    i = int(np.argmin(np.abs(Ts - T)))
    model = build_model(run.config(), jit_compile=False)
    model.rnn_cell.assign_weight_dict(weights[i])
    held = boltzmann_samples(FIT_L, float(Ts[i]), 10_000, seed=[0, 2**31 - 1])
    return {**boltzmann_metrics(model, float(Ts[i]), held, seed=[0, int(steps[i])]), "step": int(steps[i])}


def thermal_rows(ex, compute=("vanilla",)) -> list:
    """The rows of ``overshoot_fits.csv``: the fits of the cells in ``compute`` (fitted when missing) and every
    other cell's fit already in OUT/overshoot_fits/, each beside the annealed networks at its T."""
    rows = []
    for T in FIT_TEMPERATURES[ex.preset]:
        found = []
        for cell in FIT_CELLS:
            if cell in compute or (fit_path(ex, T, cell) / "fit.json").exists():
                fit = thermal_fit(ex, T, cell)
                if fit:
                    found.append((FIT_CELLS[cell], fit, T))
        if not found and not compute:
            continue
        for p in sorted([*ex.runs.glob(f"curv_vca_L{FIT_L}_s*"), *ex.runs.glob(f"closing_vca_L{FIT_L}_s*")]):
            cache = ex.out / "overshoot_fits" / f"{p.name}_T{T:g}.json"
            if ex.rundir(p.name).finished and (p / "trajectory").is_dir() and (found or cache.exists()):
                m = cached(cache, lambda n, t: annealed_at(ex, n, t), p.name, T)
                found.append((f"{p.name} (annealed)", m, m["T"]))
        for network, m, t in found:
            b = m["broken_by_row"]
            rows.append([network, T, t, m["kl_forward"], m["kl_forward_se"], m["kl_reverse"], m["kl_reverse_se"],
                         m["energy"], m["energy_exact"], m["entropy"], m["entropy_exact"], b[-1], b[-2],
                         float(np.mean(b[1:-2])), b[0], m.get("steps", ""), m.get("wall_seconds", "")])
    return rows


def main():
    args = parser(__doc__, groups=True).parse_args()
    ex = Experiment(args, "overshoot")
    table = {**groups(ex), "thermal": [], "thermal_closing": []}
    chosen = choose_groups(table, args.groups)
    ex.run_all([t for g in chosen for t in table[g]], partial_ok=True)
    fitting = [c for c, g in (("vanilla", "thermal"), ("closing", "thermal_closing")) if g in chosen]
    fits = thermal_rows(ex, compute=fitting)
    if fitting:
        ex.write_csv("_fits", FIT_HEADER, fits)
        print("\n| network | T | KL(p_B ‖ p) per spin | KL(p ‖ p_B) per spin | E/N (exact) | S/N (exact) | broken: "
              "closing row, row L − 2, rows 1 … L − 3, row 0 |\n|---|---|---|---|---|---|---|")
        for r in fits:
            print(f"| {r[0]} | {r[2]:.3f} | {r[3]:.4f} ± {r[4]:.4f} | {r[5]:.4f} ± {r[6]:.4f} | {r[7]:+.4f} "
                  f"({r[8]:+.4f}) | {r[9]:.4f} ({r[10]:.4f}) | {100 * r[11]:.1f} %, {100 * r[12]:.1f} %, "
                  f"{100 * r[13]:.2f} %, {100 * r[14]:.1f} % |", flush=True)
    rows, teff, rows_by_run = [], {}, {}
    for path in sorted(ex.runs.iterdir()) if ex.runs.is_dir() else []:
        m = VCA_RUN.fullmatch(path.name)
        run = ex.rundir(path.name)
        if not m or not run.finished or not run.history_path.exists() or run.config().mode != "vca":
            continue
        r = measure(run)
        family = m.group(1)
        rows.append([path.name, family, r["L"], int(m.group(3)), *[r[k] for k in HEADER[4:]]])
        ex.used.append(path.name)
        teff[path.name] = teff_curve(run)
        if (path / "trajectory").is_dir():
            rows_by_run[path.name] = cached(ex.out / "overshoot_rows" / f"{path.name}.json", row_defects,
                                            str(path))
        print(f"{path.name:>22}: peak {100 * r['peak_excess']:5.2f} % at T = {r['T_peak']:.3f} (onset "
              f"{r['T_onset']:.2f}, back {r['T_back']:.3f}); dF {r['dF']:+.4f} = dE {r['dE']:+.4f} "
              f"- T dS {r['minus_T_dS']:+.4f}; T_eff {r['T_eff']:.3f}", flush=True)
    ex.write_csv("", HEADER, rows)
    ex.write_csv("_curves", ["run", "T", "T_eff"], [[n, t, te] for n, c in teff.items() for t, te in c])
    ex.write_csv("_rows", ["run", "step", "T", "row", "broken_fraction"],
                 [[n, p[0], p[1], y, d] for n, pts in rows_by_run.items() for p in pts for y, d in enumerate(p[2:])])
    if rows:
        _figure(ex, rows, teff, rows_by_run, fits)
    _print(rows)
    ex.finish()


def _print(rows):
    print("\n| runs | L | annealing steps | peak excess of F (%) | T at peak | ΔF | ΔE | −TΔS | T_eff at peak |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key in sorted({(r[1], r[2], r[4]) for r in rows}, key=lambda k: (k[0] != "vca", k[1], k[2])):
        sel = np.array([r[5:13] for r in rows if (r[1], r[2], r[4]) == key], dtype=float)
        rng = lambda c, f: f"{f(sel[:, c].min())}–{f(sel[:, c].max())}" if len(sel) > 1 else f(sel[0, c])  # noqa
        print(f"| {key[0]} ({len(sel)}) | {key[1]} | {key[2]} | {rng(0, lambda x: f'{100 * x:.2f}')} | "
              f"{rng(1, lambda x: f'{x:.3f}')} | {rng(4, lambda x: f'{x:+.4f}')} | {rng(5, lambda x: f'{x:+.4f}')} | "
              f"{rng(6, lambda x: f'{x:+.4f}')} | {rng(7, lambda x: f'{x:.3f}')} |")


def _figure(ex, rows, teff, rows_by_run, fits=()):
    fig = figure((11, 8.2))
    ax, bx, cx, dx = (fig.add_subplot(2, 2, k + 1) for k in range(4))
    # (a) the split of F's excess along the anneal, for the largest L's first seed
    big = max((r for r in rows if r[1] in ("vca", "curv_vca")), key=lambda r: (r[2], r[1] == "curv_vca", -r[3]),
              default=None)
    if big is not None:
        run = ex.rundir(big[0])
        cfg = run.config()
        T, _, E, S = curves(run)
        sel = np.flatnonzero((T <= 2.0) & (T >= 0.02))[::5]
        ex_e = np.array([exact(cfg.L, round(float(T[i]), 6))["energy"] for i in sel])
        ex_s = np.array([exact(cfg.L, round(float(T[i]), 6))["entropy"] for i in sel])
        dE, mTdS = E[sel] - ex_e, -T[sel] * (S[sel] - ex_s)
        ax.plot(T[sel], dE + mTdS, color="k", lw=1.2, label="F − F_exact")
        ax.plot(T[sel], dE, color="C3", lw=1, label="E − E_exact")
        ax.plot(T[sel], mTdS, color="C0", lw=1, label="−T (S − S_exact)")
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("T (the anneal runs right to left)")
        ax.set_ylabel("excess per spin over the exact value")
        ax.set_title(f"a  {big[0]}: F's excess is energy", loc="left", fontsize=9)
        ax.legend(fontsize=7)
    # (b) effective temperature of the energy, one seed per size and family
    shown = {}
    for r in sorted(rows, key=lambda r: (r[2], r[3])):
        if r[1] in ("vca", "triangle_vca") and (r[1], r[2]) not in shown:
            shown[(r[1], r[2])] = r[0]
    sizes = sorted({k[1] for k in shown})
    for (family, L), name in sorted(shown.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        t, te = np.array(teff[name]).T
        bx.plot(t, te, "-" if family == "vca" else "--", lw=1, color=f"C{sizes.index(L)}",
                label=f"L = {L}{' (triangle cell)' if family != 'vca' else ''}")
    lim = np.array([0.05, 2.0])
    bx.plot(lim, lim, color="0.5", lw=0.8, ls=":", label="equilibrium (T_eff = T)")
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.invert_xaxis()
    bx.set_xlabel("T")
    bx.set_ylabel("T_eff: exact E(T_eff) = the network's energy")
    bx.set_title("b  the energy stays above equilibrium", loc="left", fontsize=9)
    bx.legend(fontsize=6, ncol=2)
    # (c) where the broken triangles are: the row that closes the lattice through row 0, row 0, the rest
    floor = 1e-2                     # % (a row with no broken triangle in the samples is drawn here)
    # the vanilla cell's L = 16 runs with all three rows; the closing cell's with the closing row and the bulk
    shown_rows = sorted(n for n in rows_by_run if n.startswith("curv_vca_L16"))[:2]
    shown_rows += sorted(n for n in rows_by_run if n.startswith("closing_vca_L16"))[:2]
    if not shown_rows:               # the quick preset: the largest runs there are
        shown_rows = sorted(rows_by_run, key=lambda n: (-ex.rundir(n).config().L, n))[:3]
    for k, name in enumerate(shown_rows):
        p = np.array(rows_by_run[name])
        T, d = p[:, 1], p[:, 2:]
        cx.plot(T, np.maximum(100 * d[:, -1], floor), "o-", color=f"C{k}", lw=1.2, ms=2,
                label=f"{name}: row L − 1 (closes through row 0)")
        cx.plot(T, np.maximum(100 * d[:, 1:-2].mean(axis=1), floor), "s--", color=f"C{k}", lw=1, ms=2,
                label=f"{name}: rows 1 … L − 3")
        if name.startswith("closing"):    # the row before the closing one takes the defects the bulk leaves
            cx.plot(T, np.maximum(100 * d[:, -2], floor), "v-.", color=f"C{k}", lw=1, ms=2,
                    label=f"{name}: row L − 2")
        else:
            cx.plot(T, np.maximum(100 * d[:, 0], floor), "^:", color=f"C{k}", lw=1, ms=2, label=f"{name}: row 0")
    for cell, color, what in (("vanilla", "k", "maximum-likelihood fit"), ("closing", "C2", "closing-cell fit")):
        fitted = [r for r in fits if r[0] == FIT_CELLS[cell]]
        if fitted:
            cx.plot([r[2] for r in fitted], [100 * r[11] for r in fitted], "*", color=color, ms=8,
                    label=f"{what} at T: row L − 1")
            cx.plot([r[2] for r in fitted], [100 * r[13] for r in fitted], "x", color=color, ms=6,
                    label=f"{what}: rows 1 … L − 3")
    if rows_by_run:
        t = np.linspace(0.02, ROW_WINDOW, 60)
        cx.plot(t, [100 * (exact(16, round(float(x), 6))["energy"] + 0.5) for x in t], color="0.5", lw=0.8,
                label="equilibrium, L = 16")
        cx.set_xlim(ROW_WINDOW, 0)
        cx.set_yscale("log")
        cx.set_ylim(0.8e-2, 100)
        cx.set_xlabel("T")
        cx.set_ylabel(f"broken triangles (%), {ROW_SAMPLES} samples of the kept weights")
        cx.set_title("c  the lattice's closing row stays random until the snap-back", loc="left", fontsize=9)
        cx.legend(fontsize=5.5)
    # (d) the anneal's speed at L = 6: peak excess and its energy part against the annealing steps
    speed = [r for r in rows if r[2] == 6 and r[1].startswith("speed")]
    if not any(r[1] == "speed1" for r in speed):
        speed += [r for r in rows if r[2] == 6 and r[1] == "vca" and r[3] < SPEED_SEEDS]
    if speed:
        for col, label, color in ((5, "peak excess of F (%)", "k"), (10, "E − E_exact at the peak (% of |E_exact|)",
                                                                     "C3")):
            x = np.array([r[4] for r in speed], dtype=float)
            y = np.array([100 * (r[col] if col == 5 else r[10] / abs(r[16])) for r in speed])
            dx.plot(x * (1 + 0.04 * (col == 10)), y, "o", color=color, ms=4, alpha=0.7, label=label)
        dx.set_xscale("log")
        ticks = sorted({int(r[4]) for r in speed})
        dx.set_xticks(ticks)
        dx.set_xticklabels([f"{t:,}".replace(",", " ") for t in ticks], fontsize=8)
        dx.minorticks_off()
        base = ex.protocol()["annealing_steps"]
        dx.set_xlim(min(SPEEDS) * base / 1.4, max(SPEEDS) * base * 1.4)
        dx.set_xlabel("annealing steps (Table I: 10 000)")
        dx.set_ylabel("%")
        dx.set_title("d  VCA L = 6, seeds 0–2: slower anneals", loc="left", fontsize=9)
        dx.legend(fontsize=7)
    fig.tight_layout()
    ex.save(fig)


if __name__ == "__main__":
    main()
