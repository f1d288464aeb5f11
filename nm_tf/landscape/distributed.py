"""A landscape grid split over Ray tasks.

The grid's compiled calls (chunks of points with their per-point seeds) are grouped into
tasks; each Ray worker process builds its evaluator once and evaluates its chunks. The chunks
are exactly those of a single-process scan, so the merged grid is the same, number for number.
"""

from __future__ import annotations

__all__ = ["RayExecutor"]

_EVALUATORS = {}   # per worker process: compiled evaluators by settings


def _evaluate_chunks(problem, settings: dict, jobs):
    from ..runtime import import_tensorflow

    import_tensorflow()
    from .evaluate import PlaneLoss

    key = tuple(sorted(settings.items()))
    if key not in _EVALUATORS:
        from ..runtime import configure_threads

        configure_threads(1, 1)
        _EVALUATORS[key] = PlaneLoss.from_settings(settings)
    evaluator = _EVALUATORS[key]
    return [(job, problem.evaluate(evaluator, job)) for job in jobs]


class RayExecutor:
    """``scan_plane(..., executor=RayExecutor(jobs=2))``: chunks of the grid as Ray tasks.

    Args:
        jobs: CPUs of a local Ray (when not connecting to a cluster).
        address: a running Ray cluster; None starts a local one.
        tasks_per_cpu: tasks per CPU (smaller tasks balance better, each costs a round trip).
    """

    def __init__(self, jobs: int = 2, address=None, tasks_per_cpu: int = 4, max_retries: int = 3):
        from ..cluster import ray_module

        ray_module()   # a clear message now when Ray is missing
        self.jobs, self.address, self.tasks_per_cpu, self.max_retries = jobs, address, tasks_per_cpu, max_retries

    def run(self, problem, settings: dict, jobs):
        from ..cluster import ray_session

        with ray_session(self.jobs, self.address) as ray:
            cpus = int(ray.cluster_resources().get("CPU", self.jobs))
            jobs = list(jobs)
            n_tasks = max(1, min(len(jobs), cpus * self.tasks_per_cpu))
            groups = [jobs[k::n_tasks] for k in range(n_tasks)]
            remote = ray.remote(num_cpus=1, max_retries=self.max_retries)(_evaluate_chunks)
            problem_ref = ray.put(problem)
            pending = [remote.remote(problem_ref, settings, g) for g in groups if g]
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for pair in ray.get(ready[0]):
                    yield pair
