"""Loss landscapes (paper Sec. III C, Algorithm 2): planes, batched scans, figures, snapshots.

Import-light: the TensorFlow parts load on first use.
"""

from .directions import NORMALIZATIONS, plane
from .scan import LandscapeSpec, scan_plane

__all__ = ["NORMALIZATIONS", "LandscapeSpec", "PlaneLoss", "LandscapeCallback", "compute_snapshot",
           "parse_tags", "plane", "scan_plane"]


def __getattr__(name):
    if name == "PlaneLoss":
        from .evaluate import PlaneLoss

        return PlaneLoss
    if name in ("LandscapeCallback", "compute_snapshot", "parse_tags"):
        from . import snapshots

        return getattr(snapshots, name)
    raise AttributeError(name)
