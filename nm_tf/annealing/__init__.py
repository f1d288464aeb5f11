"""Variational annealing (Algorithm 1): configuration, the resumable run, loggers and callbacks.

The names are loaded on first use, so ``from nm_tf.annealing import AnnealConfig`` does not start TensorFlow.
"""

_EXPORTS = {
    "AnnealConfig": "config", "PRESETS": "config", "load_config_file": "config",
    "AnnealRun": "driver", "anneal": "driver", "anneal_or_reuse": "driver", "default_loggers": "driver",
    "CSVLogger": "loggers", "ProgressLogger": "loggers", "Logger": "loggers",
    "TensorBoardLogger": "tensorboard",
    "Snapshot": "callbacks",
    "RunDir": "rundir",
    "restore_model": "restore", "fork_run": "restore",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nm_tf.annealing' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
