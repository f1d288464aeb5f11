"""Ray, when a job asks for a cluster: one session helper for sweeps and distributed landscape grids."""

from __future__ import annotations

import contextlib
import logging

from .errors import UsageError

__all__ = ["ray_module", "ray_session"]


def ray_module():
    try:
        import ray
    except ImportError:
        raise UsageError("--backend ray needs Ray: pip install 'nm-tf[cluster]'") from None
    return ray


def _start_local(ray, jobs: int, env: dict, attempts: int = 3):
    """Start a local Ray head. On these 2-core machines its daemons have twice been seen not to come up in
    time while the same start worked right after: the GCS server ("Timed out waiting for file
    .../gcs_server_port_...", RuntimeError, no log written) and the raylet ("The current node timed out
    during startup", a bare Exception, no raylet log). A start that timed out is therefore retried; any
    other failure is raised at once."""
    for attempt in range(1, attempts + 1):
        try:
            ray.init(num_cpus=jobs, runtime_env=env, log_to_driver=False, include_dashboard=False)
            return
        except Exception as exc:  # noqa: BLE001 - Ray raises the raylet time-out as a bare Exception
            if attempt == attempts or "timed out" not in str(exc).lower():
                raise
            logging.getLogger("nm_tf").warning(f"local Ray did not start ({str(exc)[:120]}); starting it again")
            ray.shutdown()


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
            _start_local(ray, jobs, env)
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()
