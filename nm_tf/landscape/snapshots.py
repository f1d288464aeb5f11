"""Landscape snapshots of a run: during annealing (a driver callback) or afterwards (``nm-tf landscape``).

Files, in ``<run>/landscape/``::

    directions_seed<S>.npz     the raw plane directions (shared by every snapshot of the run)
    landscape_<tag>.npz        alpha, beta, loss, T, gamma, direction_seed, center_loss, mode, ...
    weights_<tag>.npz          the centre weights theta* (float64), for further planes afterwards
    landscape_<tag>_2d.png     colour map rescaled to [-1, 1] (Fig. 4)
    landscape_<tag>_3d.png     surface (Fig. 5)

and the two images in the run's TensorBoard log under ``landscape/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..annealing.callbacks import SNAPSHOT_TAGS, Callback, Snapshot
from ..annealing.loggers import progress_enabled
from .directions import atomic_savez, plane
from .plots import figure_paths, log_images, write_figures
from .scan import LandscapeSpec, scan_plane
from ..errors import UsageError

__all__ = ["LandscapeCallback", "compute_snapshot", "finish_snapshot", "parse_tags", "snapshot_complete",
           "snapshot_path", "spec_from_config"]


def spec_from_config(cfg) -> LandscapeSpec:
    """The scan that a run's ``landscape_*`` fields describe (validated here)."""
    return LandscapeSpec(points=cfg.landscape_points, span=cfg.landscape_span,
                         samples=cfg.landscape_samples or cfg.samples, seed=cfg.landscape_seed,
                         crn=cfg.landscape_crn, repeats=cfg.landscape_repeats,
                         normalization=cfg.landscape_normalization, orthogonalize=cfg.landscape_orthogonalize)


def parse_tags(text: str) -> tuple:
    """``"after_warmup,end"`` -> tuple of tags; ``"paper"`` or ``"all"`` -> all four snapshots."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if items in (["paper"], ["all"]):
        return SNAPSHOT_TAGS
    bad = [t for t in items if t not in SNAPSHOT_TAGS]
    if bad or not items:
        raise UsageError(f"--landscape takes 'paper' or a comma-separated subset of "
                         f"{', '.join(SNAPSHOT_TAGS)}; got {text!r}")
    return tuple(dict.fromkeys(items))


def snapshot_path(workdir, tag: str) -> Path:
    from ..annealing.rundir import RunDir

    return RunDir(workdir).landscape_file(tag)


def compute_snapshot(model, cfg, spec: LandscapeSpec, *, T: float, gamma: float, workdir, tag: str,
                     step: int, evaluator=None, executor=None, images=None, directions=None,
                     meta=None, out_dir=None) -> Path:
    """Scan the plane around the model's current weights and write the snapshot files.

    Args:
        model: the trained :class:`~nm_tf.models.NewmanMooreRNN`.
        cfg: the run's :class:`~nm_tf.annealing.config.AnnealConfig` (mode, J).
        spec: the scan.
        T, gamma: loss parameters.
        workdir: run directory.
        tag: snapshot name (file names use it).
        step: training step (TensorBoard x-axis).
        evaluator: a :class:`~nm_tf.landscape.evaluate.PlaneLoss` to reuse (compiled graphs).
        executor: where the grid's chunks run (see :func:`~nm_tf.landscape.scan.scan_plane`).
        images: ``images(paths, step)`` for the TensorBoard images (default: the run's log, opened
            for this call; during a run the driver's own writer is passed).
        directions: ``(delta, eta)`` weight dicts to scan instead of the random plane of ``spec.seed``
            (e.g. :func:`~nm_tf.landscape.trajectory.pca_plane`); they are stored in the snapshot's file.
        meta: extra arrays and scalars for the snapshot's file (e.g. the projected trajectory).
        out_dir: write the files there instead of ``<run>/landscape/`` (a run that cannot be written to); the
            TensorBoard images are then left out unless ``images`` is given.

    Progress lines follow the ``nm_tf`` logger's level (INFO shows them).

    Returns:
        Path of ``landscape_<tag>.npz``.
    """
    from ..progress import Progress
    from .evaluate import PlaneLoss

    workdir = Path(workdir)
    out = snapshot_path(workdir, tag) if out_dir is None else Path(out_dir) / snapshot_path(workdir, tag).name
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        images = images or (lambda paths, at: None)
    center = {k: v.numpy().astype(np.float64) for k, v in model.rnn_cell.weight_dict().items()}
    atomic_savez(out.parent / f"weights_{tag}.npz", step=int(step), T=float(T), gamma=float(gamma), **center)
    if directions is None:
        delta, eta = plane(center, spec.seed, spec.normalization, spec.orthogonalize,
                           path=out.parent / f"directions_seed{spec.seed}.npz")
        extra = {}
    else:
        delta, eta = directions
        extra = {**{f"delta/{k}": v for k, v in delta.items()}, **{f"eta/{k}": v for k, v in eta.items()}}
    evaluator = evaluator or PlaneLoss(model, quantum=cfg.mode == "vqa", J=cfg.J, jit=cfg.jit,
                                       penalty=cfg.penalty)
    progress = Progress(spec.points ** 2 * spec.repeats, quiet=not progress_enabled(), label=f"landscape {tag} ")
    data = scan_plane(evaluator, center, delta, eta, spec, T=T, gamma=gamma, out=out, progress=progress,
                      meta={"mode": cfg.mode, "tag": tag, "step": int(step), "L": cfg.L, **extra, **(meta or {})},
                      executor=executor)
    finish_snapshot(data, workdir, tag, step, images, stem=out.with_suffix(""))
    return out


def finish_snapshot(data, workdir, tag: str, step: int, images=None, stem=None):
    """The snapshot's figures and TensorBoard images (PNGs renamed into place last)."""
    from ..annealing.rundir import RunDir

    images = images or (lambda paths, at: log_images(RunDir(workdir).tensorboard_run, paths, at))
    stem = snapshot_path(workdir, tag).with_suffix("") if stem is None else stem
    write_figures(data, stem, then=lambda paths: images(paths, step))


def snapshot_complete(workdir, tag: str) -> bool:
    return snapshot_path(workdir, tag).exists() and all(
        p.exists() for p in figure_paths(snapshot_path(workdir, tag).with_suffix("")))


class LandscapeCallback(Callback):
    """Annealing callback: scan the landscape at the chosen snapshots.

    Args:
        tags: snapshots to scan (subset of ``SNAPSHOT_TAGS``).
        spec: the scan (for a run's own ``landscape_*`` fields: :func:`spec_from_config`).

    A snapshot whose ``landscape_<tag>.npz`` exists is skipped, so a resumed run
    redoes only unfinished scans (and continues their partial grids).
    """

    def __init__(self, tags, spec: LandscapeSpec):
        self.tags = tuple(tags)
        self.spec = spec
        self._evaluator = None

    @classmethod
    def from_config(cls, cfg) -> "LandscapeCallback":
        """The snapshots a run's config asks for (``landscape`` and the ``landscape_*`` fields)."""
        return cls(cfg.landscape, spec_from_config(cfg))

    def pending(self, workdir, tag: str) -> bool:
        return tag in self.tags and not snapshot_complete(workdir, tag)

    def on_snapshot(self, event: Snapshot):
        wd, tag = event.workdir, event.tag
        if not self.pending(wd, tag):
            return
        if snapshot_path(wd, tag).exists():   # killed after the numbers, before the figures
            with np.load(snapshot_path(wd, tag)) as f:
                finish_snapshot(dict(f), wd, tag, int(f["step"]), event.log_images)
            return
        from .evaluate import PlaneLoss

        cfg = event.cfg
        if self._evaluator is None:
            self._evaluator = PlaneLoss(event.model, quantum=cfg.mode == "vqa", J=cfg.J, jit=cfg.jit,
                                        penalty=cfg.penalty)
        compute_snapshot(event.model, cfg, self.spec, T=event.T, gamma=event.gamma, workdir=wd, tag=tag,
                         step=event.step, evaluator=self._evaluator, images=event.log_images)
