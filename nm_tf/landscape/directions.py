"""Random directions in parameter space for loss-landscape planes (Eq. 8).

A direction has the structure of the RNN weights: one array per weight of
:meth:`~nm_tf.models.cell.RNN2DCell.weight_dict`. The paper draws N(0, 1)
entries and does not normalise them (ELU breaks the scale invariance that
filter normalisation relies on); filter and layer normalisation are options.
The raw draws are stored with their seed so that every snapshot of a run is
scanned on the same plane.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ..errors import UsageError

__all__ = ["NORMALIZATIONS", "atomic_savez", "load_or_draw", "normalize", "orthogonalize", "plane"]

from ..annealing.config import NORMALIZATIONS  # noqa: E402 - the run configuration's choices, owned there


def atomic_savez(path, **arrays):
    """``np.savez_compressed`` to a temporary name, then rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def _draw(shapes: dict, seed: int):
    rng = np.random.default_rng([int(seed), 0x1A4D5CA9E])
    delta = {n: rng.standard_normal(s) for n, s in shapes.items()}
    eta = {n: rng.standard_normal(s) for n, s in shapes.items()}
    return delta, eta


def load_or_draw(path, shapes: dict, seed: int):
    """Raw N(0, 1) directions ``(delta, eta)`` for ``shapes``, cached in ``path``.

    Args:
        path: ``.npz`` file; read when it exists (and checked against ``shapes``
            and ``seed``), written otherwise. ``None``: draw without caching.
        shapes: ``{weight name: shape}``.
        seed: direction seed.

    Returns:
        ``(delta, eta)``: dicts of float64 arrays.
    """
    if path is not None and Path(path).exists():
        data = np.load(path)
        if int(data["seed"]) != int(seed):
            raise UsageError(f"{path} holds directions for seed {int(data['seed'])}, not {seed}")
        delta = {n: data[f"delta/{n}"] for n in shapes if f"delta/{n}" in data}
        eta = {n: data[f"eta/{n}"] for n in shapes if f"eta/{n}" in data}
        if any(n not in delta or delta[n].shape != tuple(s) for n, s in shapes.items()):
            raise UsageError(f"{path} does not match this model's weights; delete it or pick another seed")
        return delta, eta
    delta, eta = _draw(shapes, seed)
    if path is not None:
        atomic_savez(path, seed=int(seed), **{f"delta/{n}": v for n, v in delta.items()},
                     **{f"eta/{n}": v for n, v in eta.items()})
    return delta, eta


def normalize(direction: dict, center: dict, how: str) -> dict:
    """Scale a direction to the weights it perturbs.

    ``"none"``: unchanged. ``"layer"``: each weight array scaled to the norm of
    the corresponding array of ``center``. ``"filter"`` (Li et al. 2018): each
    output unit (column of a ``[K, d]`` kernel) scaled to that column's norm in
    ``center``; 1-D weights are treated as one filter. A zero weight gives a
    zero direction.
    """
    if how not in NORMALIZATIONS:
        raise UsageError(f"normalization must be one of {NORMALIZATIONS}, got {how!r}")
    if how == "none":
        return dict(direction)
    out = {}
    for name, d in direction.items():
        c = np.asarray(center[name], dtype=np.float64)
        axis = 0 if (how == "filter" and d.ndim == 2) else None
        dn = np.linalg.norm(d, axis=axis, keepdims=axis is not None)
        cn = np.linalg.norm(c, axis=axis, keepdims=axis is not None)
        out[name] = d * np.divide(cn, dn, out=np.zeros_like(cn * dn), where=dn > 0)
    return out


def orthogonalize(delta: dict, eta: dict) -> dict:
    """``eta`` minus its projection on ``delta`` (all weights as one vector), rescaled to ``|eta|``."""
    names = list(delta)
    d = np.concatenate([delta[n].ravel() for n in names])
    e = np.concatenate([eta[n].ravel() for n in names])
    dd = d @ d
    if dd == 0:
        return dict(eta)
    e2 = e - (e @ d) / dd * d
    norm2 = np.linalg.norm(e2)
    scale = np.linalg.norm(e) / norm2 if norm2 > 0 else 0.0
    return {n: (eta[n] - (e @ d) / dd * delta[n]) * scale for n in names}


def plane(center: dict, seed: int, normalization: str = "none", orthogonal: bool = False, path=None):
    """The scan plane around ``center``: ``(delta, eta)`` ready to use (float64)."""
    shapes = {n: np.shape(v) for n, v in center.items()}
    delta, eta = load_or_draw(path, shapes, seed)
    delta = normalize(delta, center, normalization)
    eta = normalize(eta, center, normalization)
    if orthogonal:
        eta = orthogonalize(delta, eta)
    return delta, eta
