"""Callbacks: code the caller registers to run at points of an anneal.

``run(..., callbacks=[...])`` calls, on each callback that defines them:

* ``on_row(run, row, step) -> bool | None`` after every history row (and after the checkpoint that
  row may trigger); returning ``False`` stops the run there, resumable;
* ``on_snapshot(event: Snapshot)`` at the four snapshots of Algorithm 2 (before warm-up, after
  warm-up, mid-annealing, end), each right after a checkpoint of that step, so a run killed during
  a long snapshot resumes with the same weights and is called again.

Everything a snapshot callback may need is in the :class:`Snapshot` it receives.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

from .config import SNAPSHOT_TAGS

__all__ = ["Callback", "SNAPSHOT_TAGS", "Snapshot"]


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """One snapshot of a run.

    Attributes:
        tag: one of ``SNAPSHOT_TAGS``.
        step: training steps done (the checkpoint just written holds these weights).
        T, gamma: the temperature and field of the loss at this point of the schedule.
        model: the live model (its weights are the snapshot's).
        cfg: the run's :class:`~nm_tf.annealing.config.AnnealConfig`.
        workdir: the run directory.
        log_images: ``log_images(paths, step)`` adds PNGs to the run's TensorBoard log.
    """

    tag: str
    step: int
    T: float
    gamma: float
    model: Any
    cfg: Any
    workdir: Path
    log_images: Callable[[list, int], None]


class Callback:
    """Base class; override what you need."""

    def on_row(self, run, row: dict, step: int):
        return None

    def on_snapshot(self, event: Snapshot):
        pass
