"""Fig. 6: mode analysis at the end of a 3 x 3 VCA anneal: PCA coloured by Hamming distance
to the trivial state (a) and the probability of each of the 4 ground states (b).

    python experiments/fig6_modes_L3.py --preset quick
    python experiments/fig6_modes_L3.py --preset paper

Writes fig6.png, fig6.csv (ground state, Hamming distance to trivial, count, probability)
and modes.json (the full ``nm-tf modes`` statistics).
"""

import json
from pathlib import Path

import numpy as np
from common import figure, parser, protocol, run, setup, write_csv


def main():
    args = parser(__doc__, "fig6").parse_args()
    setup()
    from nm_tf.modes.analysis import analyse
    from nm_tf.modes.plots import draw_ground_state_distribution, draw_pca
    from nm_tf.modes.sources import samples_from_run

    out = Path(args.out)
    run(out, "vca_L3", args.quiet, mode="vca", L=3, T0=10.0, seed=0, final_samples=100_000,
        **protocol(args.preset))
    bits, L, source = samples_from_run(out / "runs" / "vca_L3", 100_000)
    stats = analyse(bits, L)
    (out / "modes.json").write_text(json.dumps({**stats, "source": source}, indent=1) + "\n")
    counts = np.array(stats["ground_state_counts"])
    prob = counts / max(counts.sum(), 1)
    write_csv(out / "fig6.csv", ["ground_state", "hamming_to_trivial", "count", "probability"],
              [(i + 1, h, c, p) for i, (h, c, p) in enumerate(zip(stats["ground_state_hamming"], counts, prob))])

    fig = figure((9, 3.6))
    uniq = len(np.unique(bits, axis=0))
    draw_pca(fig, fig.add_subplot(1, 2, 1), bits, L, f"(a) {len(bits)} samples, {uniq} distinct configurations")
    kl = stats["kl_to_uniform"]
    draw_ground_state_distribution(fig.add_subplot(1, 2, 2), stats,
                                   f"(b) {stats['distinct_ground_states']}/{stats['degeneracy']} found, "
                                   f"KL to uniform {kl if kl is None else round(kl, 3)}")
    fig.tight_layout()
    fig.savefig(out / "fig6.png")
    print(f"ground-state fraction {stats['ground_state_fraction']:.4f}, coverage {stats['coverage']:.2f}, "
          f"probabilities {np.round(prob, 3).tolist()}")
    print(f"wrote {out / 'fig6.png'}, {out / 'fig6.csv'} and {out / 'modes.json'}")


if __name__ == "__main__":
    main()
