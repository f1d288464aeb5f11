"""Matplotlib figures without global state (object API on the Agg canvas); matplotlib loads on first use."""

from __future__ import annotations

__all__ = ["agg_figure"]


def agg_figure(size, dpi: int = 200):
    """A ``matplotlib.figure.Figure`` of ``size`` inches with an Agg canvas (``savefig`` works, no pyplot);
    200 dpi: publication resolution for every PNG the package writes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig
