"""Preparing a run: the devices it trains on, its exact reference curve, a clean checkpoint folder.

Used by :class:`~nm_tf.annealing.driver.AnnealRun` (which owns the run itself).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ..errors import UsageError
from ..exact.quantum import MAX_QUANTUM_SPINS
from .config import AnnealConfig

__all__ = ["ExactReference", "NullScope", "clean_checkpoint_dir", "make_strategy"]
log = logging.getLogger("nm_tf")


def clean_checkpoint_dir(path: Path):
    """Remove what a crash inside ``CheckpointManager.save`` leaves (``ckpt-*_temp`` folders), and a
    checkpoint state file that cannot be parsed (checkpoints are found from their index files)."""
    if not path.is_dir():
        return
    for tmp in path.glob("*_temp*"):
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
    state = path / "checkpoint"
    if state.exists():
        from google.protobuf import text_format
        from tensorflow.python.training.checkpoint_state_pb2 import CheckpointState

        try:
            text_format.Parse(state.read_text(), CheckpointState())
        except Exception:  # noqa: BLE001 - any unparsable state file
            log.warning(f"{state} is not a checkpoint state file; ignoring it (checkpoints are read from "
                        f"their index files)")
            state.unlink()


def make_strategy(replicas: int):
    """A MirroredStrategy over ``replicas`` logical CPUs (or GPUs, when present)."""
    import tensorflow as tf

    if replicas == 1:
        return None
    # Physical devices only: listing logical ones would start the runtime and freeze the device set.
    if len(tf.config.list_physical_devices("GPU")) >= replicas:
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy([g.name for g in gpus[:replicas]])
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)])
    except RuntimeError:
        pass  # already initialised; use what exists
    logical = tf.config.list_logical_devices("CPU")
    if len(logical) < replicas:
        raise UsageError(f"replicas={replicas} needs that many devices; TensorFlow was already "
                         f"initialised with {len(logical)} CPU device(s)")
    return tf.distribute.MirroredStrategy([d.name for d in logical[:replicas]])


class ExactReference:
    """Exact reference per history row: F(T)/N when Gamma = 0, e0(Gamma)/N when T = 0, else None."""

    def __init__(self, cfg: AnnealConfig):
        self.cfg = cfg
        self.cache = {}
        n = cfg.L * cfg.L
        self.quantum_ok = n <= MAX_QUANTUM_SPINS
        # L = 5 costs seconds per Gamma: evaluate it only on a grid of annealing steps.
        self.every = 1 if n <= 16 else max(1, cfg.annealing_steps // max(cfg.exact_points - 1, 1))

    def __call__(self, T: float, gamma: float, annealing_step: int):
        from ..exact import quantum_ground_energy, thermodynamics
        from ..hamiltonian import ground_state_energy

        n = self.cfg.L * self.cfg.L
        key = (round(T, 12), round(gamma, 12))
        if key in self.cache:
            return self.cache[key]
        value = None
        if gamma == 0.0:
            value = (ground_state_energy(self.cfg.L, self.cfg.J) / n if T == 0
                     else thermodynamics(self.cfg.L, T, self.cfg.J)["free_energy"])
        elif T == 0.0 and self.quantum_ok and (annealing_step % self.every == 0
                                               or annealing_step == self.cfg.annealing_steps):
            value = quantum_ground_energy(self.cfg.L, gamma, self.cfg.J)
        if value is not None:
            self.cache[key] = float(value)
        return value


class NullScope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
