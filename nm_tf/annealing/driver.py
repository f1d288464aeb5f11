"""Algorithm 1 as a resumable run: warm-up, annealing, checkpoints, history, summary.

Run directory layout::

    config.json        the whole AnnealConfig
    history.csv        one row per annealing step (and every few warm-up steps)
    tensorboard/       scalars, gradient norm, weight histograms, hparams
    checkpoints/       tf.train.CheckpointManager: model, optimizer, step
    samples_final.npz  the final sample (bit-packed) for later analysis
    summary.json       written last; its presence marks a finished run

Randomness is a pure function of ``(seed, step)``: the samples of training
step ``s`` use the stateless seed ``[seed, s]``, so the checkpointed step *is*
the RNG state and a resumed run repeats an uninterrupted one.

Non-finite loss or gradient: the update is skipped and counted
(``skipped_steps``); after ``max_bad_steps`` consecutive bad steps the run stops
with an error and keeps its last good checkpoint.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np

from ..errors import RunError
from .config import AnnealConfig
from .schedule import step_phase, temperature_and_field

__all__ = ["AnnealRun", "HISTORY_COLUMNS", "anneal", "load_run_config"]

HISTORY_COLUMNS = ["step", "phase", "annealing_step", "T", "gamma", "loss_per_spin", "energy_per_spin",
                   "energy_std_per_spin", "entropy_per_spin", "exact_per_spin", "grad_norm"]
WARMUP_ROW_EVERY = 10
FINAL_SEED_OFFSET = 1 << 40


class NonFiniteError(RunError):
    """Training produced NaN/inf for too many consecutive steps."""


def load_run_config(workdir) -> AnnealConfig:
    path = Path(workdir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"no run in {workdir} (missing config.json)")
    return AnnealConfig.from_dict(json.loads(path.read_text()))


def make_strategy(replicas: int):
    """A MirroredStrategy over ``replicas`` logical CPUs (or GPUs, when present)."""
    import tensorflow as tf

    if replicas == 1:
        return None
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) >= replicas:
        return tf.distribute.MirroredStrategy([g.name for g in gpus[:replicas]])
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)])
    except RuntimeError:
        pass  # already initialised; use what exists
    logical = tf.config.list_logical_devices("CPU")
    if len(logical) < replicas:
        raise ValueError(f"replicas={replicas} needs that many devices; TensorFlow was already "
                         f"initialised with {len(logical)} CPU device(s)")
    return tf.distribute.MirroredStrategy([d.name for d in logical[:replicas]])


class _ExactReference:
    """Exact reference per history row: F(T)/N when Gamma = 0, e0(Gamma)/N when T = 0, else None."""

    def __init__(self, cfg: AnnealConfig):
        self.cfg = cfg
        self.cache = {}
        n = cfg.L * cfg.L
        self.quantum_ok = n <= 25
        # L = 5 costs seconds per Gamma: evaluate it only on a grid of annealing steps.
        self.every = 1 if n <= 16 else max(1, cfg.annealing_steps // max(cfg.exact_points - 1, 1))

    def __call__(self, T: float, gamma: float, annealing_step: int):
        from ..exact import quantum_ground_energy, thermodynamics

        key = (round(T, 12), round(gamma, 12))
        if key in self.cache:
            return self.cache[key]
        value = None
        if gamma == 0.0:
            value = -0.5 * self.cfg.J if T == 0 else thermodynamics(self.cfg.L, T, self.cfg.J)["free_energy"]
        elif T == 0.0 and self.quantum_ok and (annealing_step % self.every == 0
                                               or annealing_step == self.cfg.annealing_steps):
            value = quantum_ground_energy(self.cfg.L, gamma, self.cfg.J)
        if value is not None:
            self.cache[key] = float(value)
        return value


class AnnealRun:
    """One run directory: build, resume, train, summarise."""

    def __init__(self, cfg: AnnealConfig, workdir, quiet: bool = False, callbacks=()):
        self.cfg, self.workdir, self.quiet = cfg, Path(workdir), quiet
        self.callbacks = list(callbacks)
        self.skipped = 0

    # ---------------------------------------------------------------- set-up
    def build(self):
        import keras
        import tensorflow as tf

        from ..models import NewmanMooreRNN
        from .losses import make_train_step

        cfg = self.cfg
        self.strategy = make_strategy(cfg.replicas)
        scope = self.strategy.scope() if self.strategy else _NullScope()
        with scope:
            self.model = NewmanMooreRNN(cfg.L, hidden=cfg.hidden, cell=cfg.cell, ordering=cfg.ordering,
                                        seed=cfg.seed, jit_compile=cfg.jit and not self.strategy,
                                        dtype=cfg.dtype)
            self.optimizer = keras.optimizers.Adam(learning_rate=cfg.lr)
            self.step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.train_step = make_train_step(
                self.model, self.optimizer, cfg.samples, quantum=cfg.mode == "vqa", J=cfg.J,
                jit_compile=cfg.jit and not self.strategy, strategy=self.strategy,
                minibatch=cfg.minibatch, flip_chunk=cfg.flip_chunk, penalty=cfg.penalty)
        self.ckpt = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer, step=self.step_var)
        self.manager = tf.train.CheckpointManager(self.ckpt, str(self.workdir / "checkpoints"), max_to_keep=3)
        self.exact = _ExactReference(cfg)
        self.tb = _TensorBoard(self.workdir / "tensorboard", cfg)

    def prepare(self, resume: bool):
        """Create or reopen the run directory; returns the first step to run."""
        wd = self.workdir
        if (wd / "summary.json").exists():
            raise FileExistsError(f"run in {wd} already finished (summary.json exists); "
                                  f"choose a new --workdir")
        if resume:
            old = load_run_config(wd)
            if old != self.cfg:
                raise ValueError(f"--resume: the configuration differs from {wd / 'config.json'}")
        elif (wd / "config.json").exists():
            raise FileExistsError(f"{wd} already holds a run; use --resume to continue it")
        wd.mkdir(parents=True, exist_ok=True)
        (wd / "config.json").write_text(json.dumps(self.cfg.to_dict(), indent=2) + "\n")
        self.build()
        start = 0
        if resume and self.manager.latest_checkpoint:
            self.ckpt.restore(self.manager.latest_checkpoint).expect_partial()
            start = int(self.step_var.numpy())
        self._rewrite_history(start)
        return start

    def _rewrite_history(self, upto: int):
        """Keep the rows of steps <= upto (rows past the checkpoint are recomputed)."""
        path = self.workdir / "history.csv"
        rows = []
        if path.exists():
            with path.open() as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= upto]
        with path.open("w", newline="") as fh:
            w = csv.DictWriter(fh, HISTORY_COLUMNS)
            w.writeheader()
            w.writerows(rows)
        self.history = path.open("a", newline="")
        self.writer = csv.DictWriter(self.history, HISTORY_COLUMNS)

    # ---------------------------------------------------------------- training
    def _snapshot(self, tag: str, T: float, gamma: float, step: int):
        """Call the callbacks; a snapshot inside the run follows a checkpoint of the same step,
        so a run killed during a (long) snapshot resumes with the same weights and redoes it."""
        self.current_step = step
        for cb in self.callbacks:
            cb.on_snapshot(self, tag, T, gamma)

    def train(self, start: int):
        import tensorflow as tf

        cfg = self.cfg
        total = cfg.total_steps
        progress = _progress(total, start, self.quiet)
        acc, bad = [], 0
        mid = cfg.warmup + (cfg.annealing_steps // 2) * cfg.train_steps
        inside = {"after_warmup": cfg.warmup, "mid_annealing": mid if cfg.annealing_steps >= 2 else -1}
        if start == 0:
            self._snapshot("before_warmup", *temperature_and_field(cfg, 0), 0)
        for tag, at in inside.items():
            if start == at and start > 0:  # resumed from this snapshot's checkpoint: let it finish
                self._snapshot(tag, *temperature_and_field(cfg, at - 1), at)
        for s in range(start, total):
            T, gamma = temperature_and_field(cfg, s)
            out = self.train_step(tf.constant([cfg.seed, s], tf.int64), tf.constant(T, tf.float32),
                                  tf.constant(gamma, tf.float32))
            out = {k: float(v.numpy()) for k, v in out.items()}
            if not out["finite"]:
                self.skipped += 1
                bad += 1
                if bad >= cfg.max_bad_steps:
                    self._close_history()
                    raise NonFiniteError(
                        f"loss or gradient was NaN/inf for {bad} consecutive steps (step {s}, T={T:g}, "
                        f"Gamma={gamma:g}); last good checkpoint kept in {self.workdir / 'checkpoints'}")
                continue
            bad = 0
            acc.append(out)
            done = s + 1
            phase, a = step_phase(cfg, s)
            row_end = ((phase == "warmup" and (done % WARMUP_ROW_EVERY == 0 or done == cfg.warmup))
                       or (phase == "anneal" and (done - cfg.warmup) % cfg.train_steps == 0))
            if row_end:
                self._write_row(done, phase, a, T, gamma, acc)
                acc = []
                progress.update(done, T=T, Gamma=gamma, loss=out["loss"], E=out["energy"])
                if done == cfg.warmup or (phase == "anneal" and (a % cfg.checkpoint_every == 0 or done == total)):
                    self._checkpoint(done)
                for tag, at in inside.items():
                    if done == at:
                        if self.callbacks:
                            self._checkpoint(done)
                        self._snapshot(tag, T, gamma, done)
                if phase == "anneal" and a % cfg.histogram_every == 0:
                    self.tb.histograms(self.model, done)
        progress.close()
        self._checkpoint(total)
        self._snapshot("end", *temperature_and_field(cfg, max(total - 1, 0)), total)

    def _write_row(self, done, phase, a, T, gamma, acc):
        mean = {k: float(np.mean([o[k] for o in acc])) for k in acc[0]}
        exact = self.exact(T, gamma, a)  # None where no exact reference applies
        row = {"step": done, "phase": phase, "annealing_step": a, "T": f"{T:.10g}", "gamma": f"{gamma:.10g}",
               "loss_per_spin": mean["loss"], "energy_per_spin": mean["energy"],
               "energy_std_per_spin": mean["energy_std"], "entropy_per_spin": mean["entropy"],
               "exact_per_spin": "" if exact is None else exact, "grad_norm": mean["grad_norm"]}
        self.writer.writerow(row)
        self.tb.scalars(row, done)

    def _checkpoint(self, done: int):
        if getattr(self, "_saved_step", None) == done:
            return
        self._saved_step = done
        self.step_var.assign(done)
        self.history.flush()
        self.manager.save(checkpoint_number=done)

    def _close_history(self):
        if getattr(self, "history", None):
            self.history.close()

    # ---------------------------------------------------------------- summary
    def final_sample(self):
        """The final sample: ``(bits uint8 [n, N], energies [n])``, drawn in chunks."""
        from ..hamiltonian import energy

        cfg = self.cfg
        chunks, energies, left, k = [], [], cfg.final_samples, 0
        while left > 0:
            b = min(cfg.final_chunk, left)
            bits, _ = self.model.sample(b, seed=[cfg.seed, FINAL_SEED_OFFSET + k])
            bits = bits.numpy().astype(np.uint8)
            chunks.append(bits)
            energies.append(energy(bits, cfg.L, cfg.J))
            left, k = left - b, k + 1
        return np.concatenate(chunks), np.concatenate(energies)

    def summarise(self, wall: float) -> dict:
        from ..exact import degeneracy
        from ..hamiltonian import ground_state_energy

        cfg = self.cfg
        n = cfg.L * cfg.L
        bits, e = self.final_sample()
        np.savez_compressed(self.workdir / "samples_final.npz", bits=np.packbits(bits, axis=1), n_sites=n)
        ground = e <= ground_state_energy(cfg.L, cfg.J) + 1e-9 * cfg.J
        summary = {
            "mode": cfg.mode, "L": cfg.L, "n_samples": int(len(e)),
            "energy_per_spin_mean": float(e.mean() / n), "energy_per_spin_std": float(e.std() / n),
            "energy_per_spin_min": float(e.min() / n),
            "ground_state_energy_per_spin": ground_state_energy(cfg.L, cfg.J) / n,
            "reached_ground_state": bool(ground.any()),
            "ground_state_fraction": float(ground.mean()),
            "distinct_ground_states": int(len(np.unique(bits[ground], axis=0))) if ground.any() else 0,
            "degeneracy": int(degeneracy(cfg.L)) if cfg.L <= 64 else None,
            "skipped_steps": self.skipped, "wall_seconds": round(wall, 3),
        }
        self.model.save_weights(self.workdir / "model.weights.h5")
        (self.workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        self.tb.close()
        return summary


class _NullScope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _progress(total, start, quiet):
    from ..progress import Progress

    return Progress(total, start=start, quiet=quiet, label="anneal ")


class _TensorBoard:
    """Scalars, histograms and hparams; silently off when TensorBoard is not installed."""

    def __init__(self, logdir: Path, cfg: AnnealConfig):
        self.writer = None
        try:
            import tensorboard  # noqa: F401
            import tensorflow as tf
        except ImportError:
            return
        self.tf = tf
        self.writer = tf.summary.create_file_writer(str(logdir))
        try:
            from tensorboard.plugins.hparams import api as hp

            flat = {k: (v if isinstance(v, (int, float, str, bool)) else str(v))
                    for k, v in cfg.to_dict().items() if v is not None}
            with self.writer.as_default():
                hp.hparams(flat)
        except Exception:  # noqa: BLE001 - hparams are a convenience
            pass

    def scalars(self, row: dict, step: int):
        if not self.writer:
            return
        with self.writer.as_default():
            for k in ("T", "gamma", "loss_per_spin", "energy_per_spin", "energy_std_per_spin",
                      "entropy_per_spin", "exact_per_spin", "grad_norm"):
                if row[k] != "":
                    self.tf.summary.scalar(k, float(row[k]), step=step)

    def histograms(self, model, step: int):
        if not self.writer:
            return
        with self.writer.as_default():
            for v in model.trainable_variables:
                self.tf.summary.histogram(v.path, v.numpy(), step=step)

    def close(self):
        if self.writer:
            self.writer.flush()


def anneal(cfg: AnnealConfig, workdir, resume: bool = False, quiet: bool = False, callbacks=()) -> dict:
    """Run (or resume) an anneal and return its summary (also in ``summary.json``)."""
    run = AnnealRun(cfg, workdir, quiet=quiet, callbacks=callbacks)
    start = run.prepare(resume)
    t0 = time.monotonic()
    try:
        run.train(start)
    finally:
        run._close_history()
    return run.summarise(time.monotonic() - t0)
