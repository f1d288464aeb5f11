"""Multi-seed success statistics: VCA, VQA and simulated annealing per lattice size.

    python experiments/stats_success.py --preset quick   # L = 5, 6, 8; a few seeds
    python experiments/stats_success.py --preset paper   # L = 5, 6, 8, 16; Table I; 5 seeds

For each (method, L, seed): residual energy per spin of the final samples/chains,
their ground-state fraction (hit rate), and success = at least one final sample at
the ground-state energy. Simulated annealing gets the same number of configuration
energy evaluations as the variational run (chains x sweeps = steps x N_s, see
nm_tf.baselines.sa) and the same linear schedule from T0 = 10.
Writes stats.csv (one row per run) and stats_summary.csv / stats.png (per method and L).
"""

from pathlib import Path

import numpy as np
from common import figure, parser, protocol, run, setup, write_csv

PRESETS = {
    "quick": dict(sizes=(5, 6, 8), seeds={"vca": 3, "vqa": 2, "sa": 3}, vqa_max_L=6),
    "paper": dict(sizes=(5, 6, 8, 16), seeds={"vca": 5, "vqa": 5, "sa": 5}, vqa_max_L=16),
}


def main():
    args = parser(__doc__, "stats").parse_args()
    setup()
    from nm_tf.baselines import SAConfig, simulated_annealing

    out = Path(args.out)
    pre = PRESETS[args.preset]
    proto = protocol(args.preset)
    steps = proto["warmup"] + proto["annealing_steps"] * proto["train_steps"]
    rows = []
    for L in pre["sizes"]:
        for method in ("vca", "vqa", "sa"):
            if method == "vqa" and L > pre["vqa_max_L"]:
                continue
            for seed in range(pre["seeds"][method]):
                if method == "sa":
                    chains = proto["samples"]
                    r = simulated_annealing(SAConfig(L=L, chains=chains, sweeps=steps * proto["samples"] // chains,
                                                     T0=10.0, seed=seed))
                    res, hit = r["residual_energy_per_spin"], r["ground_state_hit_rate"]
                    ok = hit > 0
                else:
                    s = run(out, f"{method}_L{L}_s{seed}", args.quiet, mode=method, L=L, seed=seed,
                            final_samples=10_000, exact_points=1, **proto)
                    res = s["energy_per_spin_mean"] - s["ground_state_energy_per_spin"]
                    hit, ok = s["ground_state_fraction"], s["reached_ground_state"]
                rows.append((method, L, seed, res, hit, int(ok)))
                print(f"{method} L={L} seed={seed}: residual {res:.4f}, ground-state fraction {hit:.3f}, "
                      f"reached {bool(ok)}", flush=True)
    write_csv(out / "stats.csv", ["method", "L", "seed", "residual_energy_per_spin", "ground_state_fraction",
                                  "reached_ground_state"], rows)
    summary = []
    for method in ("vca", "vqa", "sa"):
        for L in pre["sizes"]:
            sel = [r for r in rows if r[0] == method and r[1] == L]
            if sel:
                summary.append((method, L, len(sel), np.mean([r[3] for r in sel]), np.mean([r[4] for r in sel]),
                                np.mean([r[5] for r in sel])))
    write_csv(out / "stats_summary.csv", ["method", "L", "runs", "mean_residual_energy_per_spin",
                                          "mean_ground_state_fraction", "success_rate"], summary)
    fig = figure((9, 3.4))
    for k, (col, label) in enumerate([(3, "residual energy per spin"), (5, "success rate (reached E0)")]):
        ax = fig.add_subplot(1, 2, k + 1)
        for method in ("vca", "vqa", "sa"):
            pts = [(r[1], r[col]) for r in summary if r[0] == method]
            if pts:
                ax.plot(*zip(*pts), "o-", label=method.upper())
        ax.set_xlabel("L")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "stats.png")
    print("\n| method | L | runs | residual E/N | ground-state fraction | success rate |\n|---|---|---|---|---|---|")
    for r in summary:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.4f} | {r[4]:.3f} | {r[5]:.2f} |")
    print(f"wrote {out / 'stats.png'}, {out / 'stats.csv'} and {out / 'stats_summary.csv'}")


if __name__ == "__main__":
    main()
