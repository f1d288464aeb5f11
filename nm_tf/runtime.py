"""Process-level TensorFlow settings (threads, log noise)."""

from __future__ import annotations

import os

__all__ = ["configure_threads", "import_tensorflow", "quiet_tensorflow"]


def quiet_tensorflow():
    """Silence TF's C++ info logs; call before TensorFlow is imported."""
    if not os.environ.get("TF_CPP_MIN_LOG_LEVEL"):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"


def import_tensorflow(verbose: bool = False):
    """Import TensorFlow and probe its devices, keeping its start-up lines off the console.

    TensorFlow's C++ start-up (absl, oneDNN, CUDA probing) writes to file descriptor 2 before
    ``TF_CPP_MIN_LOG_LEVEL`` takes effect, so descriptor 2 points at /dev/null for the import.
    An import error is still raised (and shown) after the descriptor is restored.
    """
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        import tensorflow as tf

        return tf
    quiet_tensorflow()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    tf.get_logger().setLevel("ERROR")
    return tf


def configure_threads(intra: int = 1, inter: int = 1) -> bool:
    """Set TF thread pools (1/1 was fastest on 2 cores). Returns False if TF already started."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(intra))
        tf.config.threading.set_inter_op_parallelism_threads(int(inter))
        return True
    except RuntimeError:
        return False
