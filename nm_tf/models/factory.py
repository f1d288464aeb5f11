"""The one place a network is built from a run's configuration."""

from __future__ import annotations

from .rnn import NewmanMooreRNN

__all__ = ["MODEL_FIELDS", "build_model"]

# The configuration fields that define the network (its shape, its distribution and its initial weights).
MODEL_FIELDS = ("L", "hidden", "cell", "ordering", "seed", "dtype", "init", "prob_floor")


def build_model(cfg, *, jit_compile: bool = True, **overrides) -> NewmanMooreRNN:
    """A :class:`NewmanMooreRNN` from any object (an ``AnnealConfig``) or mapping holding :data:`MODEL_FIELDS`.

    A mapping may omit ``seed``, ``init`` and ``prob_floor`` (then 0, ``"glorot"``, 0: the weights are
    loaded afterwards). ``overrides`` go to the constructor (e.g. ``manual_backprop``).
    """
    get = cfg.get if isinstance(cfg, dict) else (lambda k, d=None: getattr(cfg, k, d))
    return NewmanMooreRNN(get("L"), hidden=get("hidden"), cell=get("cell"), ordering=get("ordering"),
                          seed=get("seed", 0) or 0, dtype=get("dtype"), init=get("init", "glorot") or "glorot",
                          prob_floor=get("prob_floor", 0.0) or 0.0, jit_compile=jit_compile, **overrides)
