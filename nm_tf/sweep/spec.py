"""A sweep: a base AnnealConfig and lists of values whose product names the runs.

YAML (or JSON)::

    base: {mode: vca, warmup: 1000, annealing_steps: 10000, minibatch: 10}
    sweep: {L: [5, 6], seed: [0, 1, 2], penalty: [0, 0.05]}

Every combination is one run, ``runs/<name>`` with ``name`` built from the swept
fields in their order (``L5_seed0_penalty0.05``).
"""

from __future__ import annotations

import dataclasses
import itertools
import re

from ..annealing.config import AnnealConfig, load_config_file
from ..errors import UsageError

__all__ = ["DEFAULT_MAX_RUNS", "SweepSpec", "load_sweep_spec", "run_name"]

DEFAULT_MAX_RUNS = 1000      # a sweep of more runs is refused unless --max-runs says so

_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]")


def run_name(point: dict) -> str:
    """``{"L": 5, "seed": 0}`` -> ``"L5_seed0"`` (file-name safe)."""
    return "_".join(f"{k}{_UNSAFE.sub('-', str(v))}" for k, v in point.items()) or "run"


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    base: dict
    sweep: dict
    max_runs: int = DEFAULT_MAX_RUNS

    def __post_init__(self):
        names = {f.name for f in dataclasses.fields(AnnealConfig)}
        unknown = sorted((set(self.base) | set(self.sweep)) - names)
        if unknown:
            raise UsageError(f"sweep spec: unknown config fields {unknown}")
        for k, values in self.sweep.items():
            if not isinstance(values, list) or not values:
                raise UsageError(f"sweep spec: 'sweep.{k}' must be a non-empty list, got {values!r}")
        count = 1
        for values in self.sweep.values():      # counted before anything is expanded
            count *= len(values)
        if count > self.max_runs:
            raise UsageError(f"sweep spec: {count} runs (the product of the sweep lists) is more than "
                             f"--max-runs {self.max_runs}; raise --max-runs if you mean it")
        for name, cfg in self.runs():   # every combination must be a valid configuration
            pass

    def points(self) -> list:
        keys = list(self.sweep)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.sweep[k] for k in keys))]

    def runs(self) -> list:
        """``[(name, AnnealConfig)]`` for every combination."""
        out, seen = [], set()
        for point in self.points():
            name = run_name(point)
            if name in seen:
                raise UsageError(f"sweep spec: two combinations give the run name {name!r}")
            seen.add(name)
            try:
                cfg = AnnealConfig.from_dict({**self.base, **point})
            except (TypeError, ValueError) as exc:
                raise UsageError(f"sweep spec: run {name}: {exc}") from None
            out.append((name, cfg))
        return out


def load_sweep_spec(path, max_runs: int = DEFAULT_MAX_RUNS) -> SweepSpec:
    data = load_config_file(path)
    unknown = sorted(set(data) - {"base", "sweep"})
    if unknown or not isinstance(data.get("sweep", {}), dict) or not isinstance(data.get("base", {}), dict):
        raise UsageError(f"sweep spec {path} must be a mapping with 'base' (config fields) and 'sweep' "
                         f"(field: [values]); got keys {sorted(data)}")
    return SweepSpec(base=dict(data.get("base") or {}), sweep=dict(data.get("sweep") or {}), max_runs=max_runs)
