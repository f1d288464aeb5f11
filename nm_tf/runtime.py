"""Process-level TensorFlow settings (threads, log noise)."""

from __future__ import annotations

import os

__all__ = ["configure_threads", "quiet_tensorflow"]


def quiet_tensorflow():
    """Silence TF's C++ info logs; call before TensorFlow is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def configure_threads(intra: int = 1, inter: int = 1) -> bool:
    """Set TF thread pools (1/1 was fastest on 2 cores). Returns False if TF already started."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(intra))
        tf.config.threading.set_inter_op_parallelism_threads(int(inter))
        return True
    except RuntimeError:
        return False
