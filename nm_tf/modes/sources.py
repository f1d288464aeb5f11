"""Where samples come from: a run directory, an exported SavedModel, or a server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ..errors import UsageError
from ..servable import LOG_PROB, NUM_SAMPLES, SAMPLE, SEED, SPINS

__all__ = ["samples_from_run", "samples_from_savedmodel", "samples_from_server"]

CHUNK = 10_000


def _in_chunks(draw, n: int) -> np.ndarray:
    """``draw(count, k)`` for chunks ``k = 0, 1, ...`` of at most CHUNK, concatenated as uint8 bits.
    Every source seeds chunk ``k`` with ``[seed, k]``, so they agree sample for sample."""
    return np.concatenate([np.asarray(draw(min(CHUNK, n - start), start // CHUNK), dtype=np.uint8)
                           for start in range(0, n, CHUNK)])


def samples_from_run(workdir, n: int, seed=None, checkpoint=None, symmetry: str = "none",
                     with_log_prob: bool = False):
    """``(bits uint8 [n, N], L, source)`` (plus a ``log_prob`` function with ``with_log_prob``).

    Without ``seed``, ``checkpoint`` and a symmetry the run's stored final sample
    (``samples_final.npz``) is used when it holds at least ``n`` configurations;
    otherwise ``n`` fresh samples are drawn from the run's model with ``seed``
    (default 0), in chunks, with seeds ``[seed, chunk]``. ``symmetry`` (``kernel`` or
    ``kernel+translations``) samples the symmetrised ``p_G`` instead (see
    :mod:`nm_tf.models.symmetry`); ``log_prob`` is then the exact ``log p_G`` (None above
    the group-size bound), else the model's ``log p`` (None for a stored sample).
    """
    from ..annealing.rundir import RunDir

    workdir = Path(workdir)
    run = RunDir(workdir)
    cfg = run.config()
    stored = run.samples_path
    if seed is None and checkpoint is None and symmetry == "none" and run.finished and stored.exists():
        bits = run.final_samples()
        if len(bits) >= n:
            out = (bits[:n], cfg.L, f"{stored} (first {n} of {len(bits)})")

            def final_log_prob(b):    # the model is restored only when asked
                from ..annealing.restore import restore_model

                return restore_model(workdir)[0].log_prob(np.asarray(b, np.int32)).numpy()

            return out + (final_log_prob,) if with_log_prob else out
    import tensorflow as tf

    from ..annealing.restore import restore_model

    model, cfg, step = restore_model(workdir, checkpoint, jit_compile=True)
    seed = 0 if seed is None else int(seed)
    log_prob = (lambda b: model.log_prob(np.asarray(b, np.int32)).numpy())
    if symmetry == "none":
        bits = _in_chunks(lambda count, k: model.sample(count, seed=[seed, k])[0].numpy(), n)
        source = f"model of {workdir} at step {step}, seed {seed}"
    else:
        from ..models.symmetry import MAX_EXACT_GROUP, SymmetryGroup, symmetrized_log_prob, symmetrized_sample

        group = SymmetryGroup(cfg.L, symmetry)
        draw = tf.function(lambda count, s: symmetrized_sample(model, group, count, s)[0])
        bits = _in_chunks(lambda count, k: draw(count, tf.constant([seed, k], tf.int64)).numpy(), n)
        log_prob = (None if group.order > MAX_EXACT_GROUP else
                    (lambda b: symmetrized_log_prob(model, group, np.asarray(b, np.int32)).numpy()))
        source = f"model of {workdir} at step {step}, symmetrised over {symmetry} (|G| = {group.order}), seed {seed}"
    out = (bits.astype(np.uint8), cfg.L, source)
    return out + (log_prob,) if with_log_prob else out


def _lattice(n_sites: int) -> int:
    L = int(round(n_sites ** 0.5))
    if L * L != n_sites:
        raise UsageError(f"samples have {n_sites} sites, not an L x L lattice")
    return L


def samples_from_savedmodel(path, n: int, seed: int = 0, with_log_prob: bool = False):
    """Sample an exported version directory (``MODELS/NAME/VERSION``) through its ``sample`` signature:
    ``(bits, L, source)``, plus its ``log_prob`` signature as a function with ``with_log_prob`` (the
    exported distribution's: ``log p_G`` for a symmetrised export)."""
    import tensorflow as tf

    from ..export import export_metadata

    from ..errors import RunError, UsageError

    path = Path(path)
    if not (path / "saved_model.pb").exists():
        raise FileNotFoundError(f"no SavedModel in {path}")
    try:
        signatures = tf.saved_model.load(str(path)).signatures
    except Exception as exc:  # noqa: BLE001 - a damaged export raises many kinds (DecodeError, OSError, ...)
        text = str(exc).strip()
        raise RunError(f"cannot load the SavedModel in {path}: "
                       f"{text.splitlines()[0][:200] if text else type(exc).__name__}") from None
    if SAMPLE not in signatures:
        raise UsageError(f"the SavedModel in {path} has no 'sample' signature (not an nm-tf export?)")
    fn = signatures[SAMPLE]
    bits = _in_chunks(lambda count, k: fn(**{NUM_SAMPLES: tf.constant(count, tf.int32),
                                             SEED: tf.constant([seed, k], tf.int64)})[SPINS].numpy(), n)
    meta = export_metadata(path)
    out = (bits, int(meta.get("L") or _lattice(bits.shape[1])), f"SavedModel {path}, seed {seed}")
    if not with_log_prob:
        return out
    from ..models.symmetry import MAX_EXACT_GROUP

    if meta.get("symmetry", "none") != "none" and meta.get("symmetry_group_order", 0) > MAX_EXACT_GROUP:
        return out + (None,)   # its log_prob signature refuses: p_G is not exact at this |G|
    score = signatures[LOG_PROB]
    return out + (lambda b: score(**{SPINS: tf.constant(np.asarray(b, np.int8))})[LOG_PROB].numpy(),)


def samples_from_server(client, model: str, n: int, seed: int = 0, version=None, with_log_prob: bool = False):
    """Sample a served model (a :class:`~nm_tf.client.SamplerClient`): ``(bits, L, source)``, plus a
    function calling its ``log_prob`` signature with ``with_log_prob`` (None when the server refuses it)."""
    bits = _in_chunks(lambda count, k: client.sample(model, count, seed=[seed, k], version=version)[SPINS], n)
    where = client.target or client.url
    out = (bits, _lattice(bits.shape[1]), f"model {model!r} served at {where}, seed {seed}")
    if not with_log_prob:
        return out

    from ..client import ServerError

    def log_prob(b):
        try:
            r = client.predict(model, LOG_PROB, {SPINS: np.asarray(b, np.int8)}, version)
        except ServerError:       # the export's log_prob refuses (symmetrised, |G| above the exact bound)
            return None
        return r[LOG_PROB] if LOG_PROB in r else r["output"]   # REST gives a one-output signature unnamed

    return out + (log_prob,)
