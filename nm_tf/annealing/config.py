"""Annealing configuration: one frozen dataclass, loadable from JSON/YAML, overridable."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

__all__ = ["AnnealConfig", "load_config_file"]

MODES = ("vca", "vqa")
SCHEDULES = ("linear", "exponential", "points")
SNAPSHOT_TAGS = ("before_warmup", "after_warmup", "mid_annealing", "end")


@dataclasses.dataclass(frozen=True)
class AnnealConfig:
    """Everything that defines a run (defaults: the paper's Table I).

    ``T0`` defaults to 10 for VCA and 0 for VQA; ``gamma0`` to 0 for VCA and 10
    for VQA (both may be non-zero). Both are annealed with the same schedule
    shape: ``linear`` ``x(t) = x0 (1 - t)``, ``exponential``
    ``x0 (e^{-5t} - e^{-5}) / (1 - e^{-5})`` or ``points``: piecewise linear
    through ``schedule_points`` = ``[[t, fraction], ...]`` from (0, 1) to (1, 0).
    ``T_final``/``gamma_final`` (default 0) end the anneal at a finite value
    instead: ``x(t) = x_final + (x0 - x_final) fraction(t)``. At small
    ``T_final > 0`` the free-energy minimiser is close to the uniform mixture of
    all ground states, so the entropy term keeps rewarding coverage (mode-collapse study).

    ``landscape`` lists the snapshots (of ``SNAPSHOT_TAGS``) at which a loss
    landscape is scanned during the run; ``landscape_*`` set that scan
    (``landscape_samples`` defaults to ``samples``).
    """

    mode: str = "vca"
    L: int = 5
    T0: float | None = None
    gamma0: float | None = None
    warmup: int = 1000
    annealing_steps: int = 10000
    train_steps: int = 5
    samples: int = 100
    minibatch: int | None = None
    hidden: int = 40
    cell: str = "vanilla"
    ordering: str = "zigzag"
    lr: float = 1e-4
    seed: int = 0
    J: float = 1.0
    schedule: str = "linear"
    T_final: float = 0.0
    gamma_final: float = 0.0
    schedule_points: tuple | None = None
    penalty: float = 0.0
    final_samples: int = 100_000
    final_chunk: int = 10_000
    checkpoint_every: int = 100
    histogram_every: int = 500
    exact_points: int = 21
    replicas: int = 1
    jit: bool = True
    dtype: str = "float32"
    flip_chunk: int = 4096
    max_bad_steps: int = 20
    landscape: tuple = ()
    landscape_points: int = 200
    landscape_span: float = 1.0
    landscape_samples: int | None = None
    landscape_seed: int = 0
    landscape_crn: bool = False
    landscape_repeats: int = 1
    landscape_normalization: str = "none"
    landscape_orthogonalize: bool = False

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if not isinstance(self.L, int) or isinstance(self.L, bool) or self.L < 2:
            raise ValueError(f"L must be an integer >= 2, got {self.L!r}")
        for name in ("T0", "gamma0", "lr", "J", "penalty", "T_final", "gamma_final"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, float)) or math.isnan(v) or math.isinf(v) or v < 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.lr <= 0 or self.J <= 0:
            raise ValueError("lr and J must be > 0")
        for name in ("warmup", "annealing_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {getattr(self, name)!r}")
        for name in ("train_steps", "samples", "hidden", "final_samples", "final_chunk",
                     "checkpoint_every", "histogram_every", "replicas", "flip_chunk", "max_bad_steps"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.minibatch is not None and (self.minibatch < 1 or self.samples % self.minibatch):
            raise ValueError(f"minibatch must divide samples ({self.samples}), got {self.minibatch}")
        if self.samples % self.replicas:
            raise ValueError(f"samples ({self.samples}) must be divisible by replicas ({self.replicas})")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.schedule == "points":
            pts = self.schedule_points
            if not pts or len(pts) < 2 or [tuple(p) for p in pts][0] != (0, 1) or tuple(pts[-1]) != (1, 0):
                raise ValueError("schedule_points must run from [0, 1] to [1, 0]")
            ts = [p[0] for p in pts]
            if ts != sorted(ts):
                raise ValueError("schedule_points must have increasing t")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if self.cell not in ("vanilla", "gru"):
            raise ValueError(f"cell must be 'vanilla' or 'gru', got {self.cell!r}")
        if self.ordering not in ("zigzag", "raster"):
            raise ValueError(f"ordering must be 'zigzag' or 'raster', got {self.ordering!r}")
        if self.T_final > self.T_start or self.gamma_final > self.gamma_start:
            raise ValueError(f"T_final ({self.T_final}) and gamma_final ({self.gamma_final}) must not exceed "
                             f"the initial T ({self.T_start}) and Gamma ({self.gamma_start})")
        bad = [t for t in self.landscape if t not in SNAPSHOT_TAGS]
        if bad:
            raise ValueError(f"landscape snapshots must be among {SNAPSHOT_TAGS}, got {bad}")
        self.landscape_spec()  # validates the landscape_* fields

    def landscape_spec(self):
        """The :class:`~nm_tf.landscape.scan.LandscapeSpec` of the snapshots of this run."""
        from ..landscape.scan import LandscapeSpec

        return LandscapeSpec(points=self.landscape_points, span=self.landscape_span,
                             samples=self.landscape_samples or self.samples, seed=self.landscape_seed,
                             crn=self.landscape_crn, repeats=self.landscape_repeats,
                             normalization=self.landscape_normalization,
                             orthogonalize=self.landscape_orthogonalize)

    @property
    def T_start(self) -> float:
        return float(self.T0 if self.T0 is not None else (10.0 if self.mode == "vca" else 0.0))

    @property
    def gamma_start(self) -> float:
        return float(self.gamma0 if self.gamma0 is not None else (10.0 if self.mode == "vqa" else 0.0))

    @property
    def total_steps(self) -> int:
        return self.warmup + self.annealing_steps * self.train_steps

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "AnnealConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict) -> "AnnealConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        data = dict(data)
        for key in ("schedule_points", "landscape"):
            if data.get(key) is not None:
                data[key] = tuple(tuple(p) if isinstance(p, list) else p for p in data[key])
        return cls(**data)


def load_config_file(path) -> dict:
    """Read a JSON or YAML mapping; raise ``ValueError`` naming the problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - parser errors differ by format
        raise ValueError(f"cannot parse config file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping of field names to values")
    return data
