"""Where a run's rows go: loggers behind one interface, one writer per run and format.

A logger receives, in order: ``open(run, start)`` once the run is built and restored (``start`` is
the first step this process will train), ``write(row, step)`` for every history row,
``flush(step)`` right before each checkpoint, and ``close(summary, step, success)`` at the end
(``summary`` is None when the run stopped early or failed). ``run`` exposes ``cfg``, ``model``
and ``rundir``.

The driver always keeps one :class:`CSVLogger`: ``history.csv`` is part of the run directory that
resuming and the summary read. The default set (``driver.default_loggers``) is CSV, TensorBoard
(:mod:`.tensorboard`) and progress on stderr; progress follows the ``nm_tf`` logger's level (INFO shows it), so the
caller decides with :mod:`logging`, not with flags threaded through the calls.
"""

from __future__ import annotations

import csv
import io
import logging

from ..errors import RunError
from .rundir import HISTORY_COLUMNS, atomic_write_text, read_history_rows
from .schedule import step_phase

__all__ = ["CSVLogger", "Logger", "ProgressLogger", "progress_enabled"]
log = logging.getLogger("nm_tf")


def progress_enabled() -> bool:
    """Progress lines are INFO messages of the ``nm_tf`` logger."""
    return log.isEnabledFor(logging.INFO)


class Logger:
    """The interface; every method is optional."""

    def open(self, run, start: int):
        pass

    def write(self, row: dict, step: int):
        pass

    def flush(self, step: int):
        pass

    def close(self, summary: dict | None, step: int, success: bool = True):
        pass


class CSVLogger(Logger):
    """``history.csv``: on open, rows past the restored checkpoint are dropped (they are recomputed)."""

    def __init__(self):
        self._fh = None

    def open(self, run, start: int):
        path = run.rundir.history_path
        rows = []
        if start and not path.exists():
            # Refused rather than rebuilt: the rows up to the checkpoint cannot be recomputed, and the summary
            # (deviation from the exact curve) would silently cover only the steps after it.
            raise RunError(f"{path} is missing but the run resumes at training step {start}: its history cannot "
                           f"be rebuilt; put the file back or start a new run")
        if path.exists():
            rows = [r for r in read_history_rows(path) if int(r["step"]) <= start]
        buf = io.StringIO()
        w = csv.DictWriter(buf, HISTORY_COLUMNS)
        w.writeheader()
        w.writerows(rows)
        atomic_write_text(path, buf.getvalue())
        self._fh = path.open("a", newline="")
        self._writer = csv.DictWriter(self._fh, HISTORY_COLUMNS)

    def write(self, row: dict, step: int):
        self._writer.writerow({k: row.get(k, "") for k in HISTORY_COLUMNS})

    def flush(self, step: int):
        if self._fh:
            self._fh.flush()

    def close(self, summary, step, success=True):
        if self._fh:
            self._fh.close()
            self._fh = None


class ProgressLogger(Logger):
    """A progress bar (terminal) or periodic lines (logs) in the units the user set: warm-up steps,
    then annealing steps, with T or Gamma and the loss per spin."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = enabled

    def open(self, run, start: int):
        from ..progress import Progress

        cfg = self.cfg = run.cfg
        quiet = not (progress_enabled() if self.enabled is None else self.enabled)
        phase, _ = step_phase(cfg, max(start - 1, 0)) if start else ("warmup", 0)
        if phase == "warmup" and cfg.warmup and start < cfg.warmup:
            self.progress = Progress(cfg.warmup, start=start, quiet=quiet, label="warm-up", waiting="compiling…")
        else:
            self.progress = Progress(cfg.annealing_steps, start=(start - cfg.warmup) // cfg.train_steps,
                                     quiet=quiet, label="annealing", waiting="compiling…")

    def write(self, row: dict, step: int):
        cfg = self.cfg
        T, gamma = float(row["T"]), float(row["gamma"])
        field = {"T": T} if cfg.mode == "vca" else {"Gamma": gamma}
        if cfg.mode == "vqa" and T:
            field["T"] = T
        field["F/N" if cfg.mode == "vca" else "E/N"] = row["loss_per_spin"]
        if row.get("exact_per_spin") not in (None, ""):      # the exact curve beside the variational one
            field["exact"] = float(row["exact_per_spin"])
        if row.get("ground_state_fraction") not in (None, ""):
            field["GS"] = float(row["ground_state_fraction"])
        if row["phase"] == "warmup":
            self.progress.update(step, label="warm-up", total=cfg.warmup, **field)
        else:
            self.progress.update(row["annealing_step"], label="annealing", total=cfg.annealing_steps, **field)

    def close(self, summary, step, success=True):
        self.progress.close()
