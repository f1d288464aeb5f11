"""Fig. 6: mode analysis at the end of 3 x 3 VCA anneals, one column per seed: PCA of the ground-state samples
(as the paper's), coloured by Hamming distance to the trivial state (top), and the probability of each of the 4
ground states with its binomial standard error and the chi-square p-value against uniform (bottom).

    python experiments/fig6_modes_L3.py --preset quick
    python experiments/fig6_modes_L3.py --preset paper   # the five Table I runs of Fig. 2(b)

Each run's model is sampled afresh: 13 222 configurations (the paper's count), seed 0.
Ground states are numbered as nm_tf.exact.ground_states lists them, #0 = trivial.
Writes fig6.{png,pdf}, fig6.csv (seed, ground state #, Hamming distance to trivial, count,
probability) and fig6_modes.json (the full ``nm-tf modes`` statistics per seed).
"""

import json

import numpy as np
from common import Experiment, figure, parser

SEEDS = {"quick": 2, "paper": 5}
SAMPLES = 13_222


def main():
    args = parser(__doc__).parse_args()
    ex = Experiment(args, "fig6")
    from nm_tf.modes.analysis import analyse
    from nm_tf.modes.plots import draw_ground_state_distribution, draw_pca
    from nm_tf.hamiltonian import energy, ground_state_energy, is_ground_state
    from nm_tf.modes.sources import samples_from_run

    seeds = list(range(SEEDS[args.preset]))
    ex.run_all(ex.standard("vca", 3, s) for s in seeds)
    fig = figure((3.4 * len(seeds), 6.4))
    rows, stats_all = [], {}
    for k, s in enumerate(seeds):
        bits, L, source = samples_from_run(ex.runs / f"vca_L3_s{s}", SAMPLES, seed=0)
        stats = analyse(bits, L)
        stats_all[s] = {**stats, "source": source}
        counts = np.array(stats["ground_state_counts"])
        prob = counts / max(counts.sum(), 1)
        rows += [(s, i, h, c, p) for i, (h, c, p) in enumerate(zip(stats["ground_state_hamming"], counts, prob))]
        ground = is_ground_state(energy(bits, L), ground_state_energy(L))
        draw_pca(fig, fig.add_subplot(2, len(seeds), k + 1), bits[ground], L,
                 f"seed {s}: the {int(ground.sum())} ground-state samples\n({len(bits) - int(ground.sum())} of "
                 f"{len(bits)} samples are not ground states)")
        kl, p = stats["kl_to_uniform"], stats["uniformity_p_value"]
        draw_ground_state_distribution(fig.add_subplot(2, len(seeds), len(seeds) + k + 1), stats,
                                       f"seed {s}: {stats['distinct_ground_states']}/{stats['degeneracy']} found, "
                                       + (f"KL {kl:.4f}\nχ² p = {p:.1e} against uniform" if kl is not None
                                          else "no ground state"))
        print(f"seed {s}: ground-state fraction {stats['ground_state_fraction']:.4f}, "
              f"coverage {stats['coverage']:.2f}, probabilities {np.round(prob, 3).tolist()}")
    ex.write_csv("", ["seed", "ground_state", "hamming_to_trivial", "count", "probability"], rows)
    ex.path("_modes.json").write_text(json.dumps(stats_all, indent=1) + "\n")
    fig.tight_layout()
    ex.save(fig)
    ex.finish()


if __name__ == "__main__":
    main()
