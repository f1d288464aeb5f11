"""Fig. 6: PCA of the samples coloured by Hamming distance (a) and ground-state probabilities (b).

``draw_*`` fill a given matplotlib axes (the experiment scripts compose panels);
``plot_*`` write one figure each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..hamiltonian import hamming_to_trivial
from ..plotting import agg_figure
from .analysis import pca

__all__ = ["draw_ground_state_distribution", "draw_pca", "plot_ground_state_distribution", "plot_pca"]


def draw_pca(fig, ax, bits: np.ndarray, L: int, title: str = ""):
    """Scatter of the first two principal components; one marker per distinct configuration, its area growing
    with the square root of its number of samples, coloured by distance to the trivial state (a sequential
    colour map: the distance runs one way, from 0 to N)."""
    uniq, first, counts = np.unique(bits, axis=0, return_index=True, return_counts=True)
    coords, ratio = pca(bits, L)
    sc = ax.scatter(coords[first, 0], coords[first, 1], c=hamming_to_trivial(uniq, L),
                    s=12 + 200 * np.sqrt(counts / counts.max()), cmap="viridis", vmin=0, vmax=L * L,
                    edgecolors="k", linewidths=0.3, alpha=0.8)
    fig.colorbar(sc, ax=ax, label="Hamming distance to trivial state")
    ax.set_xlabel(f"PC1 ({100 * ratio[0]:.0f}%)")
    ax.set_ylabel(f"PC2 ({100 * ratio[1]:.0f}%)")
    ax.set_title(title or f"L={L}: {len(bits)} samples, {len(uniq)} distinct", fontsize=9)
    ax.text(0.01, 0.01, f"marker area ∝ √(samples); largest: {counts.max()}", transform=ax.transAxes, fontsize=7,
            va="bottom")


def draw_ground_state_distribution(ax, stats: dict, title: str = ""):
    """Empirical probability of each exact ground state (trivial first) against uniform, with the binomial
    standard error of each share as an error bar."""
    counts = np.asarray(stats["ground_state_counts"], dtype=float)
    total = counts.sum()
    prob = counts / total if total else counts
    err = np.sqrt(prob * (1 - prob) / total) if total else np.zeros_like(prob)
    ax.bar(np.arange(len(counts)), prob, yerr=err, capsize=2 if len(counts) <= 16 else 0,
           color=["tab:blue"] + ["tab:red"] * (len(counts) - 1), error_kw={"lw": 0.8})
    ax.axhline(1.0 / len(counts), color="k", ls="--", lw=1, label="uniform")
    top = float(np.max(prob + err)) if len(prob) else 1.0
    ax.set_ylim(0, max(top, 1.0 / len(counts)) * 1.3)     # head room: the legend sits above the bars
    if len(counts) <= 16:
        ax.set_xticks(np.arange(len(counts)))
    ax.set_xlabel("ground state # (0 = trivial)")
    ax.set_ylabel("probability among ground-state samples")
    ax.set_title(title or f"L={stats['L']}: {stats['distinct_ground_states']}/{stats['degeneracy']} ground "
                          f"states found", fontsize=9)
    ax.legend(fontsize=8, loc="upper right")


def plot_pca(bits: np.ndarray, L: int, path, title: str = ""):
    fig = agg_figure((4.8, 4.0))
    draw_pca(fig, fig.add_subplot(), bits, L, title)
    fig.tight_layout()
    fig.savefig(Path(path))


def plot_ground_state_distribution(stats: dict, path, title: str = ""):
    fig = agg_figure((max(4.0, min(12.0, 0.25 * len(stats["ground_state_counts"]) + 2)), 3.2))
    draw_ground_state_distribution(fig.add_subplot(), stats, title)
    fig.tight_layout()
    fig.savefig(Path(path))
