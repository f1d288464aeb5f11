"""VQA beyond the paper's sizes (issue 32 §2): Table I VQA at L = 8 and 16 with sampled transverse-field flips.

    python experiments/vqa_beyond.py --preset paper --out ~/nm-paper --jobs 1 [--groups a,b] [--finished-only]
    python experiments/vqa_beyond.py --preset quick                  # minutes: L = 4, short

The paper stops VQA at L = 5: the off-diagonal local energy costs N suffix passes per sample, O(N^2) per step
(~30 h of one core for a Table I seed at L = 16). ``--flip-samples K`` estimates it, unbiased, from K sites per
sample (``flip_samples_study.py`` measures the bias and the extra variance at L = 4 and 5 against Lanczos and
trains with K = N, N/4, N/8 there). Here K = N/8 (L = 8: 8 sites, L = 16: 32): the cheapest of the fractions the
L = 4, 5 study trains with, and at L = 16 a Table I seed in ~1.8 h of a quiet core (benchmarks/README.md).

Groups: ``beyond_L8`` (5 seeds) and ``beyond_L16`` (2 seeds), Table I otherwise. At L = 8 and 16 the Newman-Moore
ground state is unique (D = 1: the trivial state), and no exact e0(Gamma) exists along the way (N = 64, 256), so a
run is judged at Gamma = 0: final energy per spin against the ground-state energy, the ground-state fraction of
its 10^5 final samples, and beside it the committed Table I VCA runs of the same L and seeds where the pool has
them (they are not run here). Writes vqa_beyond.csv and vqa_beyond.{png,pdf}.
"""

from common import Experiment, choose_groups, figure, parser, seed_of

SIZES = {"paper": {8: 5, 16: 2}, "quick": {4: 2}}


def flips(L: int) -> int:
    return max(1, L * L // 8)


def groups(ex):
    return {f"beyond_L{L}": [(L, ex.task(f"vqa_L{L}_K{flips(L)}_s{seed}",
                                         ex.config("vqa", L, seed, flip_samples=flips(L))))
                             for seed in range(seeds)]
            for L, seeds in SIZES[ex.preset].items()}


HEADER = ["mode", "L", "seed", "flip_samples", "energy_per_spin", "ground_state_energy_per_spin",
          "residual_energy_per_spin", "ground_state_fraction", "ground_state_in_final_sample", "wall_seconds",
          "wall_ms_per_step"]


def row(mode, L, seed, k, s, steps):
    return [mode, L, seed, k, s["energy_per_spin_mean"], s["ground_state_energy_per_spin"],
            s["energy_per_spin_mean"] - s["ground_state_energy_per_spin"], s["ground_state_fraction"],
            int(bool(s["ground_state_in_final_sample"])), s["wall_seconds"], 1000 * s["wall_seconds"] / steps]


def main():
    args = parser(__doc__, groups=True).parse_args()
    ex = Experiment(args, "vqa_beyond")
    table = groups(ex)
    chosen = choose_groups(table, args.groups)
    entries = [(L, t) for g in chosen for (L, t) in table[g]]
    summaries = ex.run_all([t for _, t in entries], partial_ok=True)
    rows = []
    for L, task in entries:
        if task.name not in summaries:
            continue
        cfg = ex.rundir(task.name).config()
        steps = cfg.warmup + cfg.annealing_steps * cfg.train_steps
        rows.append(row("vqa", L, seed_of(task), flips(L), summaries[task.name], steps))
        vca = ex.rundir(f"vca_L{L}_s{seed_of(task)}")        # the committed VCA run beside it, if the pool has it
        if vca.finished:
            vcfg = vca.config()
            rows.append(row("vca", L, seed_of(task), 0, vca.summary(),
                            vcfg.warmup + vcfg.annealing_steps * vcfg.train_steps))
            ex.used.append(vca.path.name)
    for r in rows:
        print(f"{r[0]} L={r[1]:>2} s{r[2]}{f' K={r[3]}' if r[3] else ''}: E/N {r[4]:+.5f} (ground state "
              f"{r[5]:+.5f}), fraction {r[7]:.4f}, {r[9] / 3600:.2f} h, {r[10]:.1f} ms/step", flush=True)
    ex.write_csv("", HEADER, rows)
    if rows:
        _figure(ex, rows, [(L, t) for L, t in entries if t.name in summaries])
    ex.finish()


def _figure(ex, rows, finished):
    """Left: the classical part of the VQA energy (the Newman-Moore energy of the step's samples; the variational
    energy adds the transverse term, ~ -Gamma) along Gamma, every seed (the classical ground-state energy marked at
    Gamma = 0). Right: the final residual energy per seed, VQA beside VCA (a run in the ground state, residual 0,
    drawn at the floor)."""
    fig = figure((11, 3.8))
    ax, bx = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    sizes = sorted({r[1] for r in rows})
    for j, L in enumerate(sizes):
        mine = [t for L2, t in finished if L2 == L]
        for i, task in enumerate(mine):
            hist = [h for h in ex.rundir(task.name).history() if h.phase == "anneal"]
            ax.plot([h.gamma for h in hist], [h.energy_per_spin for h in hist], color=f"C{j}", lw=0.8, alpha=0.7,
                    label=f"L = {L}, K = {flips(L)}, {len(mine)} seeds" if i == 0 else None)
        e0 = [r[5] for r in rows if r[1] == L][0]
        ax.plot([0.0], [e0], "k*", ms=8, label="ground-state energy (Γ = 0)" if j == 0 else None)
    ax.invert_xaxis()
    ax.set_xlabel("Γ")
    ax.set_ylabel("⟨H_NM⟩/N of the step's samples (classical part)")
    ax.legend(fontsize=7)
    floor = 1e-6
    for k, mode in enumerate(("vqa", "vca")):
        sel = [r for r in rows if r[0] == mode]
        if not sel:
            continue
        x = [sizes.index(r[1]) + (k - 0.5) * 0.3 + 0.03 * r[2] for r in sel]
        y = [max(r[6], floor) for r in sel]
        bx.semilogy(x, y, "o" if mode == "vqa" else "s", color=f"C{k + 2}", ls="none",
                    label=f"{mode.upper()} ({'K = N/8 sampled flips' if mode == 'vqa' else 'committed Table I run'})")
    bx.axhline(floor, color="grey", ls=":", lw=1)
    bx.text(-0.45, floor * 1.4, "in the ground state (residual 0)", fontsize=7, color="grey")
    bx.set_xticks(range(len(sizes)))
    bx.set_xticklabels([f"L = {L}" for L in sizes])
    bx.set_xlim(-0.6, len(sizes) - 0.4)
    bx.set_ylabel("final residual energy per spin, E/N − E0/N")
    bx.legend(fontsize=7)
    fig.suptitle("VQA beyond the paper's sizes: Table I with sampled transverse-field flips, one point per seed",
                 fontsize=10)
    fig.tight_layout()
    ex.save(fig)


if __name__ == "__main__":
    main()
