"""Algorithm 1 as a resumable run: warm-up, annealing, checkpoints, history, summary.

The run directory's layout is owned by :class:`~nm_tf.annealing.rundir.RunDir`.

Randomness is a pure function of ``(seed, step)``: the samples of training
step ``s`` use the stateless seed ``[seed, s]``, so the checkpointed step *is*
the RNG state and a resumed run repeats an uninterrupted one.

Non-finite loss or gradient: the update is skipped and counted
(``skipped_steps``); after ``max_bad_steps`` consecutive bad steps the run stops
with an error and keeps its last good checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from ..errors import RunError, UsageError
from .config import AnnealConfig
from .callbacks import Snapshot
from .rundir import HISTORY_COLUMNS, RunDir, atomic_write_text
from .schedule import step_phase, temperature_and_field
from .setup import ExactReference, NullScope, clean_checkpoint_dir, make_strategy
from .summary import exact_deviation, final_sample, summary_of

__all__ = ["AnnealRun", "HISTORY_COLUMNS", "anneal", "anneal_or_reuse", "default_loggers"]
log = logging.getLogger("nm_tf")
WARMUP_ROW_EVERY = 10


def default_loggers() -> list:
    """CSV history, TensorBoard, progress."""
    from .loggers import CSVLogger, ProgressLogger
    from .tensorboard import TensorBoardLogger

    return [CSVLogger(), TensorBoardLogger(), ProgressLogger()]


def _each(objects, method: str, *args) -> list:
    """Call ``method`` on each object that has it (loggers and callbacks implement what they need)."""
    return [getattr(o, method)(*args) for o in objects if hasattr(o, method)]


class NonFiniteError(RunError):
    """Training produced NaN/inf for too many consecutive steps."""


class AnnealRun:
    """One run directory: build, resume, train, summarise.

    ``AnnealRun(cfg, workdir).prepare(resume)`` locks and restores; then
    ``run(n_steps=None, loggers=None, callbacks=())`` trains (all remaining steps, or ``n_steps`` of
    them) and returns the summary once the anneal is complete (None when it paused earlier).
    """

    def __init__(self, cfg: AnnealConfig, workdir):
        self.cfg, self.workdir = cfg, Path(workdir)
        self.rundir = RunDir(workdir)
        self.skipped = 0             # non-finite steps, over every process that ran the anneal
        self.sr_qr_solves = 0        # SR updates whose system was solved from QR factors (sr.sr_solve)
        self._tallies_complete = True
        self.start = None
        self.model = None
        self._saved_step = None
        self._t_trained = 0.0     # training seconds of this process
        self._t_before = 0.0      # ... and of the processes that ran the anneal up to the restored checkpoint
        self._wall_complete = True
        self._t_segment = None
        self.callbacks = []
        self.weights_source = None     # an ensemble member: copies its weights into ``model`` (``sync_weights``)
        self.summary_extra = {}        # keys an ensemble adds to each member's summary

    # ---------------------------------------------------------------- set-up
    def build(self):
        import keras
        import tensorflow as tf

        from ..models import build_model
        from .losses import StepSpec, make_train_step

        cfg = self.cfg
        self.strategy = make_strategy(cfg.replicas)
        scope = self.strategy.scope() if self.strategy else NullScope()
        with scope:
            self.model = build_model(cfg, jit_compile=cfg.jit and not self.strategy)
            # SR preconditions the gradient itself; Adam's own per-parameter scaling would undo it.
            self.optimizer = (keras.optimizers.SGD(learning_rate=cfg.lr) if cfg.optimizer == "sr"
                              else keras.optimizers.Adam(learning_rate=cfg.lr))
            self.step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.group = None
            if cfg.symmetry != "none":
                from ..models.symmetry import SymmetryGroup

                self.group = SymmetryGroup(cfg.L, cfg.symmetry)
            self.train_step = make_train_step(self.model, self.optimizer, StepSpec.from_config(cfg),
                                              jit_compile=cfg.jit and not self.strategy, strategy=self.strategy,
                                              group=self.group)
        self.ckpt = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer, step=self.step_var)
        self.manager = tf.train.CheckpointManager(self.ckpt, str(self.rundir.checkpoints), max_to_keep=3)
        self.exact = ExactReference(cfg)

    def _lock(self):
        """Hold an exclusive lock on the run directory for this process's lifetime."""
        import fcntl

        rd = self.rundir
        rd.path.mkdir(parents=True, exist_ok=True)
        self._lock_file = rd.lock_path.open("a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.seek(0)
            holder = self._lock_file.read().strip() or "another process"
            self._lock_file.close()
            raise UsageError(f"run directory {rd.path} is in use by {holder}; wait for it to finish") from None
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(f"process {os.getpid()}\n")
        self._lock_file.flush()

    def release(self):
        """Give up the run directory's lock (also done when the process ends)."""
        lock = getattr(self, "_lock_file", None)
        if lock is not None and not lock.closed:
            lock.close()

    def prepare(self, resume: bool) -> int:
        """Create or reopen the run directory; returns the first step to run."""
        wd, rd = self.workdir, self.rundir
        self._lock()
        if rd.finished:
            raise FileExistsError(f"run in {wd} already finished (summary.json exists); "
                                  f"choose a new --workdir")
        if resume:
            changed = rd.differences(self.cfg)
            if changed:
                raise UsageError(f"--resume: the configuration differs from {rd.config_path} in {', '.join(changed)}")
            edited = rd.edited_fields()
            if edited:
                raise UsageError(f"{rd.config_path} was edited after the run started ({', '.join(edited)}); "
                                 f"restore it, or start a new run in another --workdir")
            self.cfg = rd.config()      # its own values, to the last bit (differences() allows 1e-12)
        elif rd.exists:
            raise FileExistsError(f"{wd} already holds a run; use --resume to continue it")
        rd.write_config(self.cfg)
        clean_checkpoint_dir(rd.checkpoints)
        self.build()
        self.start = self._restore_latest() if resume else 0
        if self.start > 0:
            before = rd.wall_at(self.start)
            self._t_before, self._wall_complete = (before, True) if before is not None else (0.0, False)
            tallies = rd.tallies_at(self.start)
            self._tallies_complete = tallies is not None
            self.skipped = (tallies or {}).get("skipped_steps", 0)
            self.sr_qr_solves = (tallies or {}).get("sr_qr_solves", 0)
        return self.start

    def _restore_latest(self) -> int:
        """Restore the newest readable checkpoint (an unreadable one is reported and skipped)."""
        from .restore import list_checkpoints

        kept = list_checkpoints(self.workdir)
        for step in sorted(kept, reverse=True):
            try:
                self.ckpt.restore(kept[step]).expect_partial()
                restored = int(self.step_var.numpy())
                if restored != step:
                    raise UsageError(f"holds step {restored}")
                return restored
            except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint: try the previous one
                reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
                log.warning(f"checkpoint {kept[step]} is unreadable ({reason}); trying an older one")
        if kept:
            raise RunError(f"none of the checkpoints in {self.rundir.checkpoints} can be read; "
                           f"the run cannot resume (start it again in a new --workdir)")
        return 0

    # ---------------------------------------------------------------- training
    def run(self, n_steps: int | None = None, loggers=None, callbacks=()) -> dict | None:
        """Train from the restored step: all remaining steps, or ``n_steps`` of them.

        Args:
            n_steps: training steps to do in this call (None: to the end of the anneal), rounded up to
                the end of a history row. A run paused this way is checkpointed; it continues with
                another ``run`` call, or with ``prepare(resume=True)`` in a new process.
            loggers: :class:`~nm_tf.annealing.loggers.Logger` objects (default: CSV, TensorBoard,
                progress). A CSV history logger is added when none is given: resuming needs it.
            callbacks: objects with ``on_row`` and/or ``on_snapshot`` (see :mod:`.callbacks`).

        Returns:
            The summary (also in ``summary.json``) when the anneal is complete, else None.
        """
        stop = self.attach(n_steps, loggers, callbacks)
        t0 = self._t_segment = time.monotonic()
        try:
            done = self._train(self.start, stop)
        except NonFiniteError as exc:
            self._close_loggers(None, self._saved_step or self.start, success=False)
            atomic_write_text(self.rundir.diverged_path, json.dumps({"message": str(exc), "last_good_step": int(
                self._saved_step or self.start)}))
            raise
        except BaseException:
            self._close_loggers(None, self._saved_step or self.start, success=True)
            raise
        return self.finish(done, time.monotonic() - t0)

    def attach(self, n_steps, loggers, callbacks) -> int:
        """Check ``run``'s arguments, open the loggers at the restored step; returns the step to pause at."""
        from .loggers import CSVLogger

        if self.start is None:
            raise RuntimeError("AnnealRun.run() needs prepare() first")
        if n_steps is not None and (isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1):
            raise UsageError(f"n_steps must be a positive integer or None, got {n_steps!r}")
        if self.cfg.landscape and not any(hasattr(cb, "on_snapshot") for cb in callbacks):
            raise UsageError(f"the configuration asks for landscape snapshots {list(self.cfg.landscape)} but no "
                             f"callback takes them: run it with nm_tf.workflow.run_anneal (or pass a "
                             f"LandscapeCallback)")
        loggers = default_loggers() if loggers is None else list(loggers)
        if not any(isinstance(lg, CSVLogger) for lg in loggers):
            loggers.insert(0, CSVLogger())
        self.loggers, self.callbacks = loggers, list(callbacks)
        _each(loggers, "open", self, self.start)
        total = self.cfg.total_steps
        return total if n_steps is None else min(total, self.start + n_steps)

    def finish(self, done: int, seconds: float) -> dict | None:
        """After ``seconds`` of training that reached step ``done``: the summary when the anneal is complete,
        else None (the loggers are closed and the run waits at ``done``)."""
        self._t_trained += seconds
        if done < self.cfg.total_steps:
            self._close_loggers(None, done)
            self.start = done
            return None
        return self.summarise(self._t_before + self._t_trained)

    def _close_loggers(self, summary, step, success=True):
        _each(getattr(self, "loggers", ()), "close", summary, step, success)

    def _snapshot(self, tag: str, T: float, gamma: float, step: int):
        """The callbacks' ``on_snapshot``, right after a checkpoint of ``step``."""
        if any(hasattr(cb, "on_snapshot") for cb in self.callbacks):
            self.sync_weights()
        event = Snapshot(tag=tag, step=step, T=T, gamma=gamma, model=self.model, cfg=self.cfg,
                         workdir=self.workdir, log_images=self.log_images)
        _each(self.callbacks, "on_snapshot", event)

    def log_images(self, paths, step: int):
        _each(self.loggers, "images", paths, step)

    def _train(self, start: int, stop: int) -> int:
        """Training steps ``start .. stop-1``; returns the steps done (less than ``stop`` when a
        callback stopped the run)."""
        import tensorflow as tf

        cfg = self.cfg
        self.begin_steps(start)
        for s in range(start, cfg.total_steps):
            T, gamma = temperature_and_field(cfg, s)
            out = self.train_step(tf.constant([cfg.seed, s], tf.int64), tf.constant(T, tf.float32),
                                  tf.constant(gamma, tf.float32))
            paused = self.record_step(s, T, gamma, {k: float(v.numpy()) for k, v in out.items()}, stop)
            if paused is not None:
                return paused
        return self.end_steps()

    # The book-keeping of the training loop, shared with an ensemble (which trains K runs in one step and
    # hands each member its own metrics): ``begin_steps``, ``record_step`` after every step, ``end_steps``.
    def begin_steps(self, start: int):
        """The snapshots due before training step ``start``."""
        cfg = self.cfg
        self._acc, self._bad = [], 0
        mid = cfg.warmup + (cfg.annealing_steps // 2) * cfg.train_steps
        self._inside = {"after_warmup": cfg.warmup, "mid_annealing": mid if cfg.annealing_steps >= 2 else -1}
        self._snapshots = any(hasattr(cb, "on_snapshot") for cb in self.callbacks)
        if start == 0:
            self._snapshot("before_warmup", *temperature_and_field(cfg, 0), 0)
        for tag, at in self._inside.items():
            if start == at and start > 0:  # resumed from this snapshot's checkpoint: let it finish
                self._snapshot(tag, *temperature_and_field(cfg, at - 1), at)

    def record_step(self, s: int, T: float, gamma: float, out: dict, stop: int) -> int | None:
        """Account for training step ``s`` (its metrics ``out``): skipped-step count, history rows,
        checkpoints, snapshots, callbacks. Returns the steps done when the run pauses here (``stop`` reached
        or a callback said stop), else None. Raises :class:`NonFiniteError` after too many bad steps."""
        cfg = self.cfg
        self.sr_qr_solves += int(out.get("sr_qr_solves", 0))
        if not out["finite"]:          # the step changed nothing (losses.apply_unless): count it
            self.skipped += 1
            self._bad += 1
            if self._bad >= cfg.max_bad_steps:
                raise NonFiniteError(
                    f"loss or gradient was NaN/inf for {self._bad} consecutive steps (step {s}, T={T:g}, "
                    f"Gamma={gamma:g}); last good checkpoint kept in {self.workdir / 'checkpoints'}")
        else:
            self._bad = 0
            self._acc.append(out)
        done = s + 1
        phase, a = step_phase(cfg, s)
        row_end = ((phase == "warmup" and (done % WARMUP_ROW_EVERY == 0 or done == cfg.warmup))
                   or (phase == "anneal" and (done - cfg.warmup) % cfg.train_steps == 0))
        if not row_end:
            return None
        # The row averages the finite steps since the last one; a row whose steps were all skipped is not written
        # (the history holds what was measured). Its checkpoint, snapshots and pause still come: until session 28
        # a skipped step at a row's end lost them too (and a run could pass the step it was told to pause at).
        row = self._row(done, phase, a, T, gamma, self._acc) if self._acc else None
        self._acc = []
        if row is not None:
            _each(self.loggers, "write", row, done)
        if done == cfg.warmup or (phase == "anneal" and (a % cfg.checkpoint_every == 0 or done == cfg.total_steps)):
            self._checkpoint(done)
        for tag, at in self._inside.items():
            if done == at:
                if self._snapshots:
                    self._checkpoint(done)
                self._snapshot(tag, T, gamma, done)
        if row is not None and any(hasattr(cb, "on_row") for cb in self.callbacks):
            self.sync_weights()
        stop_here = _each(self.callbacks, "on_row", self, row, done) if row is not None else []
        if False in stop_here or (done >= stop and done < cfg.total_steps):
            self._checkpoint(done)
            return done
        return None

    def end_steps(self) -> int:
        """The last checkpoint and the ``end`` snapshot; returns the steps done (all of them)."""
        total = self.cfg.total_steps
        self._checkpoint(total)
        self._snapshot("end", *temperature_and_field(self.cfg, max(total - 1, 0)), total)
        return total

    def sync_weights(self):
        """Bring ``model`` (and the optimizer) up to date with the weights being trained: nothing to do for a
        single run; an ensemble member copies its slice of the stacked weights here (set by the ensemble)."""
        if self.weights_source is not None:
            self.weights_source()

    def _row(self, done, phase, a, T, gamma, acc) -> dict:
        mean = {k: float(np.mean([o[k] for o in acc])) for k in acc[0]}
        exact = self.exact(T, gamma, a)  # None where no exact reference applies
        return {"step": done, "phase": phase, "annealing_step": a, "T": f"{T:.10g}", "gamma": f"{gamma:.10g}",
                "loss_per_spin": mean["loss"], "energy_per_spin": mean["energy"],
                "energy_std_per_spin": mean["energy_std"], "entropy_per_spin": mean["entropy"],
                "exact_per_spin": "" if exact is None else exact, "grad_norm": mean["grad_norm"],
                "ground_state_fraction": mean["ground_state_fraction"]}

    def _checkpoint(self, done: int):
        if self._saved_step == done:
            return
        self._saved_step = done
        import tensorflow as tf

        self.sync_weights()
        self.step_var.assign(done)
        _each(self.loggers, "flush", done)
        try:
            self.manager.save(checkpoint_number=done)
        except tf.errors.OpError as exc:   # TF's own file errors (a full disk, a read-only folder): one line
            first = (exc.message or type(exc).__name__).strip().splitlines()[0]
            raise OSError(f"cannot write checkpoint {done} in {self.rundir.checkpoints} ({first}); free space or "
                          f"fix the folder, then continue with --resume") from None
        self.rundir.record_wall(done, self._t_before + self._t_trained + time.monotonic() - self._t_segment)
        self.rundir.record_tallies(done, {"skipped_steps": self.skipped, "sr_qr_solves": self.sr_qr_solves})

    # ---------------------------------------------------------------- summary
    def final_sample(self):
        """The final sample: ``(bits uint8 [n, N], energies [n])`` (of ``p_G`` when trained with a symmetry)."""
        return final_sample(self.model, self.cfg, self.group)

    def summarise(self, wall: float) -> dict:
        """Draw the final sample, write it, the weights and ``summary.json`` (last: it marks the run finished)."""
        rd = self.rundir
        self.sync_weights()
        bits, e = self.final_sample()
        tmp = rd.samples_path.with_name("samples_final.tmp.npz")
        np.savez_compressed(tmp, bits=np.packbits(bits, axis=1), n_sites=self.cfg.L * self.cfg.L)
        tmp.replace(rd.samples_path)
        summary = summary_of(self.cfg, bits, e, exact_deviation(rd.history()), skipped=self.skipped, wall=wall,
                             wall_complete=self._wall_complete, sr_qr_solves=self.sr_qr_solves,
                             tallies_complete=self._tallies_complete)
        summary.update(self.summary_extra)
        tmp = rd.weights_path.with_name("model.tmp.weights.h5")
        self.model.save_weights(tmp)
        tmp.replace(rd.weights_path)
        self._close_loggers(summary, self.cfg.total_steps)
        atomic_write_text(rd.summary_path, json.dumps(summary, indent=2) + "\n")   # last: marks the run finished
        return summary


def anneal(cfg: AnnealConfig, workdir, resume: bool = False, loggers=None, callbacks=()) -> dict:
    """Run (or resume) an anneal to its end and return its summary (also in ``summary.json``).
    ``loggers`` and ``callbacks`` as in :meth:`AnnealRun.run`."""
    run = AnnealRun(cfg, workdir)
    try:
        run.prepare(resume)
        return run.run(loggers=loggers, callbacks=callbacks)
    finally:
        run.release()


def anneal_or_reuse(cfg: AnnealConfig, workdir, loggers=None, callbacks=()) -> dict:
    """The summary of the run ``cfg`` in ``workdir``: reused when finished, resumed when started,
    started otherwise. A run directory holding a different configuration is an error, never reused."""
    rd = RunDir(workdir)
    if rd.exists:
        changed = rd.differences(cfg)
        if changed:
            raise UsageError(f"{workdir} holds a run with a different configuration ({', '.join(changed)})")
        if rd.finished:
            return rd.summary()
    return anneal(cfg, workdir, resume=rd.exists, loggers=loggers, callbacks=callbacks)
