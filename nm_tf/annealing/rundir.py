"""The run directory: the one owner of its layout and of the questions asked about it.

Layout (written by :mod:`.driver`)::

    config.json        the whole AnnealConfig
    history.csv        one row per annealing step (and every few warm-up steps)
    tensorboard/       <name>/ (scalars, gradient norm, weight histograms, hparams, images) and <name>_exact/
    checkpoints/       tf.train.CheckpointManager: model, optimizer, step; wall_seconds.json: the
                       training seconds up to each kept checkpoint, over all processes of the run;
                       tallies.json: the step counts the summary reports (skipped steps, SR's QR
                       solves) up to each kept checkpoint, so that a resumed run counts from its start
    samples_final.npz  the final sample (bit-packed) for later analysis
    model.weights.h5   the final weights
    landscape/         loss-landscape snapshots (``landscape_<tag>.npz``, directions, figures)
    summary.json       written last; its presence marks a finished run

Everything else in the package (export, modes, quickstart, sweeps, experiments) reads a
run through :class:`RunDir` instead of retyping file names.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import re
from pathlib import Path

import numpy as np

from .config import AnnealConfig
from ..errors import RunError, UsageError

__all__ = ["HISTORY_COLUMNS", "HistoryRow", "RunDir", "atomic_write_text"]


def atomic_write_text(path, text: str):
    """Write to a temporary name in the same directory, flush to disk, then rename: a crash or a
    full disk leaves the old file or none, never half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


# The columns every history has; ground_state_fraction (of the training samples) was added in 0.3: empty in the
# rows of older runs (also after they are resumed).
REQUIRED_HISTORY_COLUMNS = ["step", "phase", "annealing_step", "T", "gamma", "loss_per_spin", "energy_per_spin",
                            "energy_std_per_spin", "entropy_per_spin", "exact_per_spin", "grad_norm"]
HISTORY_COLUMNS = REQUIRED_HISTORY_COLUMNS + ["ground_state_fraction"]


@dataclasses.dataclass(frozen=True)
class HistoryRow:
    """One row of ``history.csv``; ``exact_per_spin`` is None where no exact reference applies."""

    step: int
    phase: str
    annealing_step: int
    T: float
    gamma: float
    loss_per_spin: float
    energy_per_spin: float
    energy_std_per_spin: float
    entropy_per_spin: float
    exact_per_spin: float | None
    grad_norm: float
    ground_state_fraction: float | None = None

    @classmethod
    def from_csv(cls, row: dict) -> "HistoryRow":
        exact = row.get("exact_per_spin", "")
        return cls(step=int(row["step"]), phase=row["phase"], annealing_step=int(row["annealing_step"]),
                   T=float(row["T"]), gamma=float(row["gamma"]), loss_per_spin=float(row["loss_per_spin"]),
                   energy_per_spin=float(row["energy_per_spin"]),
                   energy_std_per_spin=float(row["energy_std_per_spin"]),
                   entropy_per_spin=float(row["entropy_per_spin"]),
                   exact_per_spin=float(exact) if exact not in ("", None) else None,
                   grad_norm=float(row["grad_norm"]),
                   ground_state_fraction=float(row["ground_state_fraction"])
                   if row.get("ground_state_fraction") not in ("", None) else None)


def read_history_rows(path) -> list:
    """The rows of a ``history.csv`` as dicts, checked: UTF-8, the expected columns, integer steps.
    A damaged file is a :class:`RunError` naming it (never a traceback)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not set(REQUIRED_HISTORY_COLUMNS) <= set(reader.fieldnames):
                raise ValueError(f"columns {reader.fieldnames} are not {list(HISTORY_COLUMNS)}")
            rows = list(reader)
        for k, r in enumerate(rows, start=2):
            if not (r["step"] or "").isdigit():
                raise ValueError(f"line {k}: step {r['step']!r} is not a non-negative integer")
        return rows
    except (UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise RunError(f"{path} is damaged ({' '.join(str(exc).split())[:200]}); restore it or start a new "
                       f"run") from None


# A landscape tag names files inside the run: one path component, never "." or "..".
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def same_config_value(a, b) -> bool:
    """Equal configuration values, floats within a relative 1e-12 (see :meth:`RunDir.differences`)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_config_value(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0) or (math.isnan(a) and math.isnan(b))
    return a == b


class RunDir:
    """A run directory and what can be asked of it.

    Example:
        >>> run = RunDir("runs/vca_L5")                          # doctest: +SKIP
        >>> run.finished, run.config().L, run.history()[-1].T    # doctest: +SKIP
    """

    def __init__(self, path):
        if path is None or not str(path).strip():
            raise UsageError(f"a run directory must be a path, got {str(path)!r}")
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"{self.path} is a file, not a run directory")

    def __repr__(self):
        return f"RunDir({str(self.path)!r})"

    # ------------------------------------------------------------------ paths
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def history_path(self) -> Path:
        return self.path / "history.csv"

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    @property
    def samples_path(self) -> Path:
        return self.path / "samples_final.npz"

    @property
    def diverged_path(self) -> Path:
        """Written when the run stopped on non-finite steps (:class:`~.driver.NonFiniteError`): the step and the
        message, so that a study can tell a diverged run from one still to run (a resume would only diverge
        again from the same checkpoint, deterministically)."""
        return self.path / "diverged.json"

    def diverged(self) -> dict | None:
        """The divergence record, or None."""
        try:
            return json.loads(self.diverged_path.read_text())
        except (OSError, ValueError):
            return None

    @property
    def weights_path(self) -> Path:
        return self.path / "model.weights.h5"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def tensorboard(self) -> Path:
        """The log root to point TensorBoard at; the run's events are in two runs below it (see
        :attr:`tensorboard_run`)."""
        return self.path / "tensorboard"

    @property
    def tensorboard_run(self) -> Path:
        """The run's own TensorBoard run, named after its directory (TensorBoard names a run by its folder)."""
        return self.tensorboard / self.path.resolve().name

    @property
    def tensorboard_exact(self) -> Path:
        """A second TensorBoard run holding the exact curve under the same tag as the variational one, so that
        one chart shows both in two colours."""
        return self.tensorboard / f"{self.path.resolve().name}_exact"

    @property
    def landscape(self) -> Path:
        return self.path / "landscape"

    @property
    def trajectory(self) -> Path:
        return self.path / "trajectory"     # nm_tf.landscape.trajectory writes it

    def landscape_file(self, tag: str) -> Path:
        if not isinstance(tag, str) or not _TAG.fullmatch(tag):
            raise UsageError(f"a landscape tag must be 1-64 letters, digits, '_', '.' or '-' (not starting with "
                             f"'.'), got {tag!r}")
        return self.landscape / f"landscape_{tag}.npz"

    # ------------------------------------------------------------------ state
    @property
    def exists(self) -> bool:
        """A run was started here (its configuration is written first)."""
        return self.config_path.exists()

    @property
    def pinned_config_path(self) -> Path:
        """A copy of the configuration the run started with (detects a later edit of config.json)."""
        return self.checkpoints / "run_config.json"

    @property
    def wall_path(self) -> Path:
        """Training seconds up to each kept checkpoint, summed over every process that ran the anneal."""
        return self.checkpoints / "wall_seconds.json"

    def wall_at(self, step: int):
        """Training seconds up to checkpoint ``step`` (None when not recorded: runs from before the record)."""
        try:
            return float(json.loads(self.wall_path.read_text())[str(int(step))])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def record_wall(self, step: int, seconds: float, keep: int = 8):
        """Note the training seconds up to checkpoint ``step`` (the newest ``keep`` entries stay)."""
        _record_at_step(self.wall_path, step, round(float(seconds), 3), keep)

    @property
    def tallies_path(self) -> Path:
        """The counts the summary reports (``skipped_steps``, ``sr_qr_solves``) up to each kept checkpoint."""
        return self.checkpoints / "tallies.json"

    def tallies_at(self, step: int):
        """``{name: count}`` up to checkpoint ``step`` (None when not recorded: runs from before the record)."""
        try:
            got = json.loads(self.tallies_path.read_text())[str(int(step))]
            return {str(k): int(v) for k, v in got.items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def record_tallies(self, step: int, tallies: dict, keep: int = 8):
        """Note the counts up to checkpoint ``step`` (the newest ``keep`` entries stay)."""
        _record_at_step(self.tallies_path, step, {k: int(v) for k, v in tallies.items()}, keep)

    @property
    def lock_path(self) -> Path:
        return self.path / ".lock"

    @property
    def finished(self) -> bool:
        """A complete ``summary.json`` is here (it is written last, atomically)."""
        try:
            return isinstance(json.loads(self.summary_path.read_text()), dict)
        except (OSError, ValueError):
            return False

    def require(self, finished: bool = False) -> "RunDir":
        """Raise a clear ``FileNotFoundError`` unless a (finished) run is here."""
        if not self.exists:
            raise FileNotFoundError(f"no run in {self.path} (missing config.json)")
        if finished and not self.finished:
            raise FileNotFoundError(f"the run in {self.path} has not finished (no summary.json); "
                                    f"resume it with: nm-tf anneal --workdir {self.path} --resume")
        return self

    # ------------------------------------------------------------------ contents
    def config(self) -> AnnealConfig:
        self.require()
        try:
            data = json.loads(self.config_path.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {self.config_path}: {exc}") from None
        return AnnealConfig.from_dict(data)

    def write_config(self, cfg: AnnealConfig):
        """Write ``config.json`` and, the first time, its pinned copy."""
        self.path.mkdir(parents=True, exist_ok=True)
        text = json.dumps(cfg.to_dict(), indent=2) + "\n"
        atomic_write_text(self.config_path, text)
        if not self.pinned_config_path.exists():
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.pinned_config_path, text)

    def edited_fields(self) -> list:
        """Fields of ``config.json`` changed since the run started ([] for runs from before the pin)."""
        try:
            pinned = json.loads(self.pinned_config_path.read_text())
        except (OSError, ValueError):
            return []
        current = self.config().to_dict()
        pinned = AnnealConfig.from_dict(pinned).to_dict()
        return [k for k in current if current[k] != pinned.get(k)]

    def summary(self) -> dict:
        self.require(finished=True)
        try:
            data = json.loads(self.summary_path.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {self.summary_path}: {exc}") from None
        if "reached_ground_state" in data and "ground_state_in_final_sample" not in data:   # runs before 0.2
            data["ground_state_in_final_sample"] = data["reached_ground_state"]
        if "residual_energy_per_spin" not in data and "ground_state_energy_per_spin" in data:   # likewise
            data["residual_energy_per_spin"] = data["energy_per_spin_mean"] - data["ground_state_energy_per_spin"]
        return data

    def history(self) -> list:
        """The rows of ``history.csv`` as :class:`HistoryRow`."""
        self.require()
        rows = read_history_rows(self.history_path)
        try:
            return [HistoryRow.from_csv(r) for r in rows]
        except (TypeError, ValueError) as exc:
            raise RunError(f"{self.history_path} is damaged ({exc})") from None

    def final_samples(self) -> np.ndarray:
        """The stored final sample: uint8 bits ``[n, N]``."""
        self.require(finished=True)
        try:
            with np.load(self.samples_path) as data:
                return np.unpackbits(data["bits"], axis=1, count=int(data["n_sites"]))
        except Exception as exc:  # noqa: BLE001 - NumPy raises many kinds for a damaged .npz
            raise RunError(f"{self.samples_path} is damaged ({type(exc).__name__}); delete it, or pass --seed to "
                           f"draw fresh samples from the run's weights") from None

    def portable_files(self) -> list:
        """The files another machine needs to carry this run on, as paths inside the run directory.

        A finished run: its configuration, summary, final weights and history, which are enough to sample,
        analyse, export it and redraw its curves, its kept trajectory if any with the tables computed from it,
        and its landscape snapshots if any (each scan, the snapshot's weights and the directions: ~0.7 MB for four
        200 x 200 scans; figures are drawn from them, and a scan is minutes to hours of work; their PNGs are
        redrawn, not carried). The stored final sample and the TensorBoard log stay behind; a sample is then drawn
        fresh from the weights. An unfinished run: its
        configuration, history, kept checkpoints with their bookkeeping, any finished landscape snapshots, its
        trajectory and its divergence record if it stopped on non-finite steps, which are enough to
        resume it exactly (the samples of step ``s`` depend only on ``[seed, s]``).
        """
        self.require()
        if self.finished:
            wanted = [self.config_path, self.summary_path, self.weights_path, self.history_path]
            missing = [p.name for p in wanted if not p.exists()]
            if missing:
                raise UsageError(f"finished run {self.path} lacks {', '.join(missing)}")
            kept = sorted(self.trajectory.glob("step*.npz")) if self.trajectory.is_dir() else []
            return (wanted + [p for p in kept if not p.name.endswith(".tmp.npz")] + self.trajectory_tables()
                    + self.landscape_scans())
        files = [self.config_path, self.history_path, self.diverged_path]
        for folder in (self.checkpoints, self.landscape, self.trajectory):
            if folder.is_dir():
                files += sorted(p for p in folder.rglob("*") if p.is_file() and "_temp" not in p.parent.name
                                and not p.name.endswith(".tmp"))
        return [p for p in files if p.exists()]

    def landscape_scans(self) -> list:
        """A finished run's landscape snapshots as they travel: each scan, snapshot weights and directions (npz; the
        PNGs are redrawn from them)."""
        scans = sorted(self.landscape.glob("*.npz")) if self.landscape.is_dir() else []
        return [p for p in scans if not p.name.endswith(".tmp.npz")]

    def trajectory_tables(self) -> list:
        """The tables computed from the kept trajectory after the run (e.g. the curvature at each kept point,
        ``trajectory/*.csv``): hours of work that travel with the run and may grow after it finished."""
        return sorted(self.trajectory.glob("*.csv")) if self.trajectory.is_dir() else []

    def differences(self, cfg: AnnealConfig) -> list:
        """The config fields in which ``cfg`` differs from the run's own configuration.

        Floats count as equal within a relative 1e-12: a value derived on the spot (the coverage study's T_final,
        a root of the exact ground-state weight) can differ in its last bit from one CPU to another, and is the
        same configuration. A resume then keeps the run's stored values (:meth:`AnnealRun.prepare`)."""
        old = self.config().to_dict()
        return [k for k, v in cfg.to_dict().items() if not same_config_value(old.get(k), v)]


def _record_at_step(path: Path, step: int, value, keep: int):
    """Set ``{step: value}`` in the JSON record ``path`` (a checkpoint's side record), keeping the newest ``keep``
    steps: older checkpoints are deleted by the checkpoint manager, so their entries would only grow the file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data = data if isinstance(data, dict) else {}
    data[str(int(step))] = value
    newest = sorted(data, key=int)[-keep:]
    atomic_write_text(path, json.dumps({k: data[k] for k in newest}) + "\n")
