"""Larger degeneracies (issue 15, section 5): does a Table I VCA anneal reach the ground-state energy at
L = 12, 14, 15 (256, 4096, 16 384 ground states), and are the symmetrised samples uniform there?

    python experiments/large_degeneracy.py --preset quick   # L = 6, 7; short anneals
    python experiments/large_degeneracy.py --preset paper   # L = 12, 14, 15; Table I; 3 seeds

For every run: the final energy per spin, ground-state fraction and distinct ground states of its
10^5 final samples (the network's own p_theta). Where some final sample is at the ground-state energy,
10^6 samples of the symmetrised p_G (G = ker A; |G| = degeneracy) are drawn and compared with the
uniform distribution over the enumerated ground states: chi^2 p-value, effective ground states,
KL to uniform, and the fraction of ground states seen. Writes large_degeneracy.csv and
large_degeneracy.{png,pdf}.
"""

import numpy as np
from common import Experiment, figure, parser

UNIFORM_DRAWS = 20


def uniform_reference(n: int, degeneracy: int, seed: int = 0):
    """Effective ground states and KL to uniform that exactly uniform sampling shows with ``n`` ground-state
    samples (mean and s.d. over UNIFORM_DRAWS multinomial draws): with n / D of tens, even a perfect sampler
    sits visibly below D and above KL = 0, so this, not D, is the value to compare with."""
    rng = np.random.default_rng(seed)
    eff, kl = [], []
    for _ in range(UNIFORM_DRAWS):
        c = rng.multinomial(n, np.full(degeneracy, 1.0 / degeneracy))
        q = c[c > 0] / n
        h = -np.sum(q * np.log(q))
        eff.append(np.exp(h))
        kl.append(np.log(degeneracy) - h)
    return float(np.mean(eff)), float(np.std(eff)), float(np.mean(kl))


PRESETS = {"quick": dict(sizes=(6, 7), seeds=2, symmetrised=20_000),
           "paper": dict(sizes=(12, 14, 15), seeds=3, symmetrised=1_000_000)}


def plot(rows, pre):
    """Three panels over the seeds, one colour per L and one legend under them (so no legend hides a point):
    distinct ground states of p_theta (the key result: one each) and of p_G against D; p_G's effective number
    over D beside an exactly uniform sampler's with the same number of ground-state samples; the residual energy.
    ``rows``: the rows written to the CSV, typed (a run that never reached the ground state has 0 p_G samples)."""
    from matplotlib.lines import Line2D

    fig = figure((13, 4.4))
    colours = {L: f"C{k}" for k, L in enumerate(pre["sizes"])}
    offset = {L: 0.14 * (k - 1) for k, L in enumerate(pre["sizes"])}
    ax = fig.add_subplot(1, 3, 1)
    for L in pre["sizes"]:          # the key result: each network holds one ground state, p_G all of them
        sel = [r for r in rows if r[0] == L]
        x = [r[1] + offset[L] for r in sel]
        ax.semilogy(x, [max(r[6], 0.8) for r in sel], "o", color=colours[L])
        held = [(xi, r[13] * r[2]) for xi, r in zip(x, sel) if r[8]]
        ax.semilogy([h[0] for h in held], [h[1] for h in held], "s", ms=8, mfc="none", mew=1.5, color=colours[L])
        ax.axhline(sel[0][2], color=colours[L], ls=":", lw=1, zorder=0)
        ax.text(0.01, sel[0][2] * 1.25, f"D = {sel[0][2]}", color=colours[L], fontsize=8, va="bottom",
                ha="left", transform=ax.get_yaxis_transform())
        for xi, r in zip(x, sel):
            if not r[8]:
                ax.annotate("no ground state\n(so no p_G)", (xi, max(r[6], 0.8)), xytext=(6, 10),
                            textcoords="offset points", fontsize=8, color=colours[L])
    ax.set_ylim(0.5, 1e5)
    ax.set_ylabel("distinct ground states seen")
    ax.set_title("p_θ holds one ground state, p_G all D", fontsize=9)
    ax = fig.add_subplot(1, 3, 2)
    for L in pre["sizes"]:
        sel = [r for r in rows if r[0] == L and r[8]]
        x = np.array([r[1] + offset[L] for r in sel])
        ax.plot(x - 0.035, [r[11] / r[2] for r in sel], "s", ms=7, mfc="none", mew=1.5, color=colours[L])
        ax.errorbar(x + 0.035, [r[14] / r[2] for r in sel], yerr=[r[15] / r[2] for r in sel], fmt="_", ms=10,
                    mew=2, color="k", alpha=0.7)
    ax.set_ylabel("effective ground states of p_G / D")
    ax.set_title("p_G against an exactly uniform sampler", fontsize=9)
    ax = fig.add_subplot(1, 3, 3)
    for L in pre["sizes"]:
        sel = [r for r in rows if r[0] == L]
        ax.semilogy([r[1] + offset[L] for r in sel], [max(r[3] - r[4], 1e-5) for r in sel], "o", color=colours[L])
    ax.set_ylabel("residual energy of p_θ, (E − E0)/N [J] (floor 1e-5)")
    ax.set_title("how far p_θ ends above the ground state", fontsize=9)
    for ax in fig.axes:
        ax.set_xlabel("seed")
        ax.set_xticks(range(pre["seeds"]))
        ax.set_xlim(-0.5, pre["seeds"] - 0.5)
    degeneracy = {r[0]: r[2] for r in rows}
    handles = [Line2D([], [], color=colours[L], marker="o", ls="none", label=f"L = {L} (D = {degeneracy.get(L, '?')})")
               for L in pre["sizes"]]
    n_pg = max((r[8] for r in rows), default=0)
    handles += [Line2D([], [], color="grey", marker="o", ls="none", label="p_θ: its 10^5 final samples"),
                Line2D([], [], color="grey", marker="s", mfc="none", ls="none",
                       label=f"p_G: {n_pg:.0e} samples".replace("e+0", "e")),
                Line2D([], [], color="k", marker="_", ms=10, mew=2, ls="none",
                       label="exactly uniform, same n (mean ± s.d. of 20 draws)")]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    degeneracies = ", ".join(str(d) for d in sorted(set(degeneracy.values())))
    fig.suptitle(f"Plain VCA at D = {degeneracies} ground states: the network holds few (one at Table I); its "
                 f"symmetrised p_G holds all, as uniformly as an exact sampler with as many samples", fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def main():
    args = parser(__doc__).parse_args()
    ex = Experiment(args, "large_degeneracy")
    pre = PRESETS[args.preset]
    from nm_tf.modes.analysis import analyse
    from nm_tf.modes.sources import samples_from_run

    tasks = [ex.standard("vca", L, s) for L in pre["sizes"] for s in range(pre["seeds"])]
    summaries = ex.run_all(tasks, partial_ok=True)
    rows = []
    for task in [t for t in tasks if t.name in summaries]:
        s = summaries[task.name]
        L, seed = s["L"], int(task.name.rsplit("_s", 1)[1])
        row = [L, seed, s["degeneracy"], s["energy_per_spin_mean"], s["ground_state_energy_per_spin"],
               s["ground_state_fraction"], s["distinct_ground_states"], s["ground_state_in_final_sample"]]
        if s["ground_state_in_final_sample"]:
            bits, _, _ = samples_from_run(task.workdir, pre["symmetrised"], seed=1, symmetry="kernel")
            a = analyse(bits, L)
            n_ground = int(round(a["ground_state_fraction"] * len(bits)))
            row += [len(bits), a["ground_state_fraction"], a["uniformity_p_value"], a["effective_ground_states"],
                    a["kl_to_uniform"], a["coverage"], *uniform_reference(n_ground, s["degeneracy"])]
        else:
            row += [0, "", "", "", "", "", "", "", ""]
        rows.append(row)
        print(f"L={L} seed {seed}: E/N {row[3]:+.5f} (E0/N {row[4]:+.5f}), ground-state fraction {row[5]:.4f}"
              + (f"; p_G: chi^2 p = {row[10]:.3g}, effective {row[11]:.0f} of {row[2]} (uniform sampling: "
                 f"{row[14]:.0f} +- {row[15]:.0f}), coverage {row[13]:.3f}"
                 if row[8] else "; never at the ground-state energy"), flush=True)
    header = ["L", "seed", "degeneracy", "energy_per_spin", "ground_state_energy_per_spin", "ground_state_fraction",
              "distinct_ground_states", "reached_ground_state_energy", "symmetrised_samples",
              "symmetrised_ground_state_fraction", "uniformity_p_value", "effective_ground_states", "kl_to_uniform",
              "coverage", "effective_if_uniform_mean", "effective_if_uniform_sd", "kl_if_uniform_mean"]
    ex.write_csv("", header, rows)
    fig = plot(rows, pre)
    ex.save(fig)
    ex.finish()


if __name__ == "__main__":
    main()
