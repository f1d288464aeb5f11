"""Many anneals at once: a sweep spec, a runner over a process pool or a Ray cluster, a results table."""

from .results import write_results
from .runner import RunTask, run_tasks
from .spec import SweepSpec, load_sweep_spec

__all__ = ["RunTask", "SweepSpec", "load_sweep_spec", "run_tasks", "write_results"]
