"""The one entry point for a configured anneal: the run, with every per-run instrument its config asks for.

``nm_tf.annealing`` knows nothing of the tools (a test checks it), so an instrument that a config field turns
on (the in-run loss landscapes of ``cfg.landscape``, the kept trajectory of ``cfg.trajectory_every`` /
``trajectory_dense``) is attached here, once, for the CLI, sweeps and the quick start alike. A new instrument plugs
into :func:`instruments`.
"""

from __future__ import annotations

__all__ = ["instruments", "run_anneal", "run_ensemble"]


def instruments(cfg) -> list:
    """The callbacks ``cfg`` asks for (each checks its own config fields first)."""
    out = []
    if cfg.landscape:
        from .landscape.snapshots import LandscapeCallback

        out.append(LandscapeCallback.from_config(cfg))
    if cfg.trajectory_every or cfg.trajectory_window:
        from .landscape.trajectory import TrajectoryCallback

        out.append(TrajectoryCallback(cfg.trajectory_every, cfg.trajectory_window, quantum=cfg.mode == "vqa"))
    return out


def run_anneal(cfg, workdir, *, resume: bool = False, reuse: bool = False, loggers=None, callbacks=()) -> dict:
    """Run the anneal ``cfg`` in ``workdir`` to its end and return its summary.

    Args:
        resume: continue the run in ``workdir`` from its last checkpoint.
        reuse: the run's summary when ``workdir`` holds it finished, resumed when started, started otherwise
            (a different configuration there is an error); sweeps and the quick start use this.
        loggers, callbacks: as in :meth:`~nm_tf.annealing.driver.AnnealRun.run`; the config's instruments are
            added to ``callbacks``.
    """
    from .annealing.driver import anneal, anneal_or_reuse

    callbacks = list(callbacks) + instruments(cfg)
    if reuse:
        return anneal_or_reuse(cfg, workdir, loggers=loggers, callbacks=callbacks)
    return anneal(cfg, workdir, resume=resume, loggers=loggers, callbacks=callbacks)


def run_ensemble(cfgs, workdirs, *, resume: bool = False, reuse: bool = False, loggers=None) -> list:
    """Train the anneals ``cfgs`` (differing only in seed) as one ensemble, each in its own run directory of
    ``workdirs``, with the instruments each configuration asks for; returns their summaries (see
    :func:`~nm_tf.annealing.ensemble_run.anneal_ensemble`)."""
    from .annealing.ensemble_run import anneal_ensemble

    return anneal_ensemble(cfgs, workdirs, resume=resume, reuse=reuse, loggers=loggers,
                           callbacks=[instruments(c) for c in cfgs])
