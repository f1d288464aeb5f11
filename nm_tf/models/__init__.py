"""Neural-network ansatzes.

The names are loaded on first use, so ``nm_tf.models.options`` (the network's named choices) can be read without
starting TensorFlow.
"""

_EXPORTS = {
    "CELL_TYPES": "options", "INITS": "options", "MAX_PROB_FLOOR": "options",
    "RNN2DCell": "cell",
    "MODEL_FIELDS": "factory", "build_model": "factory",
    "NewmanMooreRNN": "rnn", "seed_tensor": "rnn", "uniforms_from_seed": "rnn",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nm_tf.models' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
