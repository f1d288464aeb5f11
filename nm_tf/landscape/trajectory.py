"""Optimisation paths: the weights kept along an anneal, and the plane of their principal components.

A run with ``trajectory_every = K`` keeps its weights at step 0, at the end of the warm-up and every K annealing
steps (and, with ``trajectory_dense``, more often inside a window of T or Gamma) in
``<run>/trajectory/step<step>.npz`` (one file per point, written atomically, the same again when a resumed run
redoes a stretch). :func:`pca_plane` takes the principal components of the path relative to a
centre (the final weights, as in Li et al.'s trajectory plots): ``delta`` and ``eta`` are PC1 and PC2 (unit
vectors over all weights), the path's coordinates are its projections on them and the explained variance says
how much of the path the plane holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..annealing.callbacks import Callback
from ..errors import UsageError
from .directions import atomic_savez

__all__ = ["TrajectoryCallback", "in_window", "load_trajectory", "pca_plane", "trajectory_dir", "trajectory_point"]


def trajectory_dir(workdir) -> Path:
    from ..annealing.rundir import RunDir

    return RunDir(workdir).trajectory


def _save(model, workdir, step: int, T: float, gamma: float):
    weights = {k: v.numpy().astype(np.float64) for k, v in model.rnn_cell.weight_dict().items()}
    atomic_savez(trajectory_dir(workdir) / f"step{int(step):09d}.npz", step=int(step), T=float(T),
                 gamma=float(gamma), **{f"w/{k}": v for k, v in weights.items()})


class TrajectoryCallback(Callback):
    """Keep the weights at step 0, at the end of the warm-up, every ``every`` annealing steps (0: none) and, with
    ``window = (low, high, k)``, every ``k`` annealing steps while the annealed parameter (T, or Gamma when
    ``quantum``) is in ``[low, high]``."""

    def __init__(self, every: int, window=None, quantum: bool = False):
        if isinstance(every, bool) or not isinstance(every, int) or every < 0:
            raise UsageError(f"Received an invalid value for argument `every`: expected an integer >= 0, "
                             f"got {every!r}")
        self.every, self.window, self.key = every, window, "gamma" if quantum else "T"

    def on_snapshot(self, event):
        if event.tag == "before_warmup":
            _save(event.model, event.workdir, event.step, event.T, event.gamma)

    def on_row(self, run, row, step):
        a = row["annealing_step"]
        keep = row["phase"] == "warmup" and step == run.cfg.warmup
        if row["phase"] == "anneal":
            keep = bool(self.every) and a % self.every == 0
            if self.window is not None:
                low, high, k = self.window
                keep = keep or (low <= float(row[self.key]) <= high and a % k == 0)
        if keep:
            _save(run.model, run.workdir, step, float(row["T"]), float(row["gamma"]))


def _kept_files(workdir) -> list:
    """The kept points' files in step order (not the temporary files of a write in progress)."""
    folder = trajectory_dir(workdir)
    return sorted(f for f in folder.glob("step*.npz") if not f.name.endswith(".tmp.npz")) if folder.is_dir() else []


def load_trajectory(workdir):
    """``(steps [n], T [n], gamma [n], weights: list of {name: array})`` in step order."""
    files = _kept_files(workdir)
    if len(files) < 3:
        raise UsageError(f"{workdir} keeps {len(files)} trajectory points; a PCA plane needs at least 3: anneal "
                         f"with --trajectory-every K (annealing steps between kept weights)")
    steps, T, gamma, weights = [], [], [], []
    for f in files:
        with np.load(f) as d:
            steps.append(int(d["step"]))
            T.append(float(d["T"]))
            gamma.append(float(d["gamma"]))
            weights.append({k[2:]: d[k] for k in d.files if k.startswith("w/")})
    return np.array(steps), np.array(T), np.array(gamma), weights


def in_window(trajectory, window, quantum: bool):
    """The points of ``trajectory`` (:func:`load_trajectory`'s tuple) whose annealed parameter (T, or Gamma when
    ``quantum``) is in ``window = (low, high)``, as the same kind of tuple."""
    steps, T, gamma, weights = trajectory
    key = gamma if quantum else T
    keep = [i for i in range(len(steps)) if window[0] <= key[i] <= window[1]]
    return steps[keep], T[keep], gamma[keep], [weights[i] for i in keep]


def trajectory_point(workdir, step: int):
    """``(T, gamma, weights)`` of the point kept at training step ``step``; a one-line error names the kept
    steps nearest to it when there is none."""
    path = trajectory_dir(workdir) / f"step{int(step):09d}.npz"
    if not path.exists():
        kept = [int(f.stem[4:]) for f in _kept_files(workdir)]
        if not kept:
            raise UsageError(f"{workdir} keeps no trajectory points (anneal with --trajectory-every K)")
        near = sorted(kept, key=lambda k: abs(k - step))[:3]
        raise UsageError(f"{workdir} kept no weights at step {step}; the nearest kept steps are "
                         f"{', '.join(map(str, sorted(near)))}")
    with np.load(path) as d:
        return float(d["T"]), float(d["gamma"]), {k[2:]: d[k] for k in d.files if k.startswith("w/")}


def pca_plane(center: dict, path: list):
    """PC1 and PC2 of ``path - center``.

    Args:
        center: ``{name: array}``, the plane's origin (e.g. the final weights).
        path: list of ``{name: array}`` with the same names and shapes.

    Returns:
        ``(delta, eta, coords [n, 2], explained [2])``: the two directions as weight dicts (unit norm over all
        weights, sign fixed so that the path's first point has a negative PC1 coordinate), the path's
        projections on them, and the fraction of the path's variance along each.
    """
    names = list(center)
    for p in path:
        if set(p) != set(names) or any(np.shape(p[n]) != np.shape(center[n]) for n in names):
            raise UsageError("the trajectory's weights do not match the model's (another network?)")
    c = np.concatenate([np.ravel(center[n]) for n in names])
    m = np.stack([np.concatenate([np.ravel(p[n]) for n in names]) for p in path]) - c
    # PCA = SVD of the centred path: numpy's SVD is all it needs (no scikit-learn dependency for two vectors).
    _, s, vt = np.linalg.svd(m - m.mean(axis=0), full_matrices=False)
    total = float(np.sum(s ** 2))
    explained = (s[:2] ** 2) / total if total > 0 else np.zeros(2)
    pcs = vt[:2]
    coords = m @ pcs.T
    sign = np.where(coords[0] > 0, -1.0, 1.0)       # the path starts on the negative side of each PC
    pcs, coords = pcs * sign[:, None], coords * sign
    sizes = np.cumsum([0] + [int(np.size(center[n])) for n in names])

    def as_dict(v):
        return {n: v[sizes[i]:sizes[i + 1]].reshape(np.shape(center[n])) for i, n in enumerate(names)}

    return as_dict(pcs[0]), as_dict(pcs[1]), coords, explained
