"""Ray, when a job asks for a cluster: one session helper for sweeps and distributed landscape grids."""

from __future__ import annotations

import contextlib

from .errors import UsageError

__all__ = ["ray_module", "ray_session"]


def ray_module():
    try:
        import ray
    except ImportError:
        raise UsageError("--backend ray needs Ray: pip install 'nm-tf[cluster]'") from None
    return ray


@contextlib.contextmanager
def ray_session(jobs: int, address=None):
    """Ray connected to ``address``, or a local Ray with ``jobs`` CPUs; shut down afterwards if started here."""
    ray = ray_module()
    started_here = not ray.is_initialized()
    if started_here:
        # Workers import the package from the same installation; nothing to upload.
        env = {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2", "OPENBLAS_NUM_THREADS": "1"}}
        if address:
            ray.init(address=address, runtime_env=env, log_to_driver=False)
        else:
            ray.init(num_cpus=jobs, runtime_env=env, log_to_driver=False, include_dashboard=False)
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()
