"""Figures of a scanned plane: 2D colour map rescaled to [-1, 1] (Fig. 4) and 3D surface (Fig. 5).

Uses matplotlib's object API with the Agg canvas, so no global backend is touched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plotting import agg_figure as _figure

__all__ = ["figure_paths", "rescale", "plot_2d", "plot_3d", "write_figures", "log_images"]


def rescale(loss: np.ndarray) -> np.ndarray:
    """Map ``loss`` linearly onto ``[-1, 1]`` (the paper's colour scale); a flat plane maps to 0."""
    loss = np.where(np.isfinite(loss), loss, np.nan)
    if np.isnan(loss).all():
        return loss
    lo, hi = np.nanmin(loss), np.nanmax(loss)
    if hi == lo:
        return np.where(np.isnan(loss), np.nan, 0.0)
    return 2.0 * (loss - lo) / (hi - lo) - 1.0


def _title(data) -> str:
    """Tag, loss and the parameter the mode anneals (both only when both are set)."""
    mode = str(data.get("mode", ""))
    what = "F/N" if mode == "vca" else "E/N"
    tag = str(data.get("tag", ""))
    bad = int(data.get("nonfinite_points", 0))
    if bad:
        tag += f" [{bad} points overflowed]"
    T, gamma = float(data["T"]), float(data["gamma"])
    params = [f"T={T:.3g}"] if mode == "vca" or T else []
    params += [f"Γ={gamma:.3g}"] if mode == "vqa" or gamma else []
    return f"{tag}  {what}  {'  '.join(params)}"


def _range_note(data) -> str:
    """The physical scale the [-1, 1] colour map hides."""
    loss = np.asarray(data["loss"], dtype=float)
    loss = loss[np.isfinite(loss)]
    if not loss.size:
        return "no finite point"
    what = "F/N" if str(data.get("mode", "")) == "vca" else "E/N"
    return (f"−1 ↔ {what} = {loss.min():.5g}, +1 ↔ {loss.max():.5g}; centre θ* (+) "
            f"{float(data['center_loss']):.5g}")


def _cmap():
    import matplotlib

    # NaN: the network's forward pass overflowed there.
    return matplotlib.colormaps["viridis"].with_extremes(bad="lightgrey")


def plot_2d(data, path):
    """Colour map of the rescaled loss over ``(alpha, beta)``."""
    a, b = np.asarray(data["alpha"]), np.asarray(data["beta"])
    fig = _figure((4.6, 4.0))
    ax = fig.add_subplot()
    cmap = _cmap()
    im = ax.imshow(rescale(np.asarray(data["loss"])).T, origin="lower", extent=(a[0], a[-1], b[0], b[-1]),
                   cmap=cmap, vmin=-1, vmax=1, aspect="equal", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="rescaled loss")
    ax.plot([0], [0], "r+", ms=8)
    xlabel, ylabel = "α", "β"
    if "trajectory_alpha" in data:       # a PCA plane: the path it was made from, start to end
        ta, tb = np.asarray(data["trajectory_alpha"]), np.asarray(data["trajectory_beta"])
        ax.plot(ta, tb, "-", color="white", lw=1.0)
        ax.plot(ta, tb, "o", color="white", mec="k", mew=0.4, ms=2.5)
        ax.plot(ta[:1], tb[:1], "s", color="orange", mec="k", ms=5, label="start")
        ax.legend(fontsize=7, loc="upper right")
        ev = np.asarray(data["explained_variance"])
        xlabel, ylabel = f"PC1 ({100 * ev[0]:.1f} %)", f"PC2 ({100 * ev[1]:.1f} %)"
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(_title(data), fontsize=9)
    fig.text(0.01, 0.01, _range_note(data), fontsize=6.5, va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path)


def plot_3d(data, path):
    """3D surface of the loss per spin."""
    a, b = np.meshgrid(np.asarray(data["alpha"]), np.asarray(data["beta"]), indexing="ij")
    loss = np.asarray(data["loss"], dtype=float)
    loss = np.where(np.isfinite(loss), loss, np.nan)
    fig = _figure((5.2, 4.2))
    ax = fig.add_subplot(projection="3d")
    step = max(1, loss.shape[0] // 100)   # the surface mesh does not need more than ~100x100 facets
    ax.plot_surface(a[::step, ::step], b[::step, ::step], loss[::step, ::step], cmap="viridis",
                    linewidth=0, antialiased=False, rstride=1, cstride=1, alpha=0.9)
    # theta*: the weights the plane is centred on (alpha = beta = 0), at its loss, drawn over the surface
    # (computed_zorder off: matplotlib's depth sort would otherwise hide it under the surface)
    ax.computed_zorder = False
    centre = float(data["center_loss"])
    top = float(np.nanmax(loss)) if np.isfinite(loss).any() else centre
    ax.plot([0.0, 0.0], [0.0, 0.0], [centre, top], color="red", lw=1, zorder=9)
    ax.scatter([0.0], [0.0], [centre], color="red", s=25, depthshade=False, label="θ*", zorder=10)
    ax.legend(fontsize=7, loc="upper left")
    pca = "explained_variance" in data
    ax.set_xlabel("PC1" if pca else "α")
    ax.set_ylabel("PC2" if pca else "β")
    ax.set_zlabel("F/N" if str(data.get("mode", "")) == "vca" else "E/N")
    ax.set_title(_title(data), fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


def figure_paths(stem: Path):
    stem = Path(stem)
    return stem.with_name(stem.name + "_2d.png"), stem.with_name(stem.name + "_3d.png")


def write_figures(data, stem: Path, then=None):
    """Write ``<stem>_2d.png`` and ``<stem>_3d.png``; return their paths.

    The images are drawn under temporary names, ``then(temporary paths)`` runs (e.g. logging
    them to TensorBoard), and only then are they renamed: both PNGs present means every
    output of the snapshot was made.
    """
    final = figure_paths(stem)
    tmp = [p.with_name(p.stem + ".tmp.png") for p in final]
    plot_2d(data, tmp[0])
    plot_3d(data, tmp[1])
    if then is not None:
        then(tmp)
    for t, f in zip(tmp, final):
        t.replace(f)
    return final


def log_images(logdir, paths, step: int) -> bool:
    """Add the PNGs to a TensorBoard log outside a run (``nm-tf landscape`` afterwards); during a run
    the driver's own writer takes them. False without TensorBoard."""
    try:
        import tensorboard  # noqa: F401
        import tensorflow as tf
    except ImportError:
        return False
    from ..annealing.tensorboard import image_summaries

    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        image_summaries(paths, step)
    writer.close()
    return True
