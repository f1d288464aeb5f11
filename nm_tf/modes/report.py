"""A mode analysis written to disk: ``modes.json`` and its figures."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["run_modes"]


def run_modes(bits, L: int, out_dir, source: str = "", J: float = 1.0, log_prob=None, symmetry: str = "none") -> dict:
    """Analyse ``bits``, write ``modes.json``, ``modes_pca.png`` and (when the exact set is
    listed) ``modes_ground_states.png`` into ``out_dir``; return the statistics."""
    from .analysis import analyse
    from .plots import plot_ground_state_distribution, plot_pca

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = analyse(bits, L, J, log_prob=log_prob)
    stats["source"] = source
    stats["symmetry"] = symmetry
    figures = [out_dir / "modes_pca.png"]
    plot_pca(bits, L, figures[0])
    if "ground_state_counts" in stats:
        figures.append(out_dir / "modes_ground_states.png")
        plot_ground_state_distribution(stats, figures[-1])
    stats["figures"] = [str(f) for f in figures]
    (out_dir / "modes.json").write_text(json.dumps(stats, indent=1) + "\n")
    return stats
