"""A run's TensorBoard log, laid out for physics.

* Two TensorBoard runs, named after the run directory: ``<name>`` and ``<name>_exact`` (in ``tensorboard/``).
  ``loss/per_spin`` is the variational F/N (VCA) or E/N (VQA) in the first and the exact F(T)/N or e0(Gamma)/N
  in the second: one chart, two colours. Other groups: ``physics/...`` (energy, its spread, entropy per spin, the
  ground-state fraction of the training samples), ``schedule/T`` or ``schedule/Gamma`` (only what the mode
  anneals), ``training/grad_norm``; every scalar carries a description.
* A custom-scalars layout (the "Custom Scalars" tab) with the same charts.
* HParams: the physics parameters of the run as hyper-parameters, and the final energy per spin,
  ground-state fraction, residual energy and median deviation from the exact curve as metrics (also scalars in
  the group ``zz_final``, which sorts after the curves); the session ends with its status (success, or failure
  when the run stopped).

* Weight histograms every ``histogram_every`` annealing steps; images (landscape snapshots) through
  :meth:`TensorBoardLogger.images`, so the run has one writer for its log directory.

Silently off when TensorBoard is not installed.
"""

from __future__ import annotations

from pathlib import Path

from .config import FIELD_HELP
from .loggers import Logger

__all__ = ["TensorBoardLogger", "image_summaries"]

# HParams are the config's fields (so a new setting shows up by itself), those the studies compare first;
# bookkeeping fields (chunk sizes, checkpoint and histogram periods, landscape settings) are left out.
HPARAMS_FIRST = ("mode", "L", "lr", "seed", "ordering", "cell", "preset", "symmetry", "clip_norm", "T_final",
                 "gamma_final", "penalty", "minibatch", "local_loss", "dtype", "replicas")
HPARAMS_SKIPPED = ("final_samples", "final_chunk", "checkpoint_every", "histogram_every", "exact_points", "jit",
                   "flip_chunk", "max_bad_steps", "schedule_points", "landscape")


def hparam_names(cfg) -> list:
    import dataclasses

    fields = [f.name for f in dataclasses.fields(cfg)
              if f.name not in HPARAMS_SKIPPED and not f.name.startswith("landscape_")]
    return [n for n in HPARAMS_FIRST if n in fields] + [n for n in fields if n not in HPARAMS_FIRST]


# The final values: one point each, in a group that sorts after the curves.
METRICS = {"zz_final/energy_per_spin": "energy_per_spin_mean",
           "zz_final/ground_state_fraction": "ground_state_fraction",
           "zz_final/residual_energy_per_spin": "residual_energy_per_spin",
           "zz_final/exact_rel_deviation_median": "exact_rel_deviation_median"}


_DESCRIPTIONS = {
    "loss_per_spin": "the variational loss per spin on the step's samples: F/N = <E + T log p>/N (VCA) or "
                     "<E_loc>/N (VQA)",
    "exact_per_spin": "the exact reference at the same T or Gamma: F(T)/N by the dual-code sum, or e0(Gamma)/N by "
                      "Lanczos (N <= 16, and at L = 5 on some steps)",
    "energy_per_spin": "mean Newman-Moore energy per spin of the samples (classical, diagonal part)",
    "energy_std_per_spin": "standard deviation of the energy per spin over the samples",
    "entropy_per_spin": "-<log p>/N of the samples (ln 2 = 0.693: uniform)",
    "grad_norm": "global norm of the gradient before any clipping (largest over the step's mini-batches)",
    "ground_state_fraction": "fraction of the step's training samples that are ground states",
    "T": "temperature of the step (units of J)", "gamma": "transverse field of the step (units of J)",
}


def image_summaries(paths, step: int):
    """PNG files as images in the default summary writer, named after their stems
    (``landscape_end_2d`` -> ``landscape/end_2d``)."""
    import tensorflow as tf

    for path in paths:
        image = tf.image.decode_png(Path(path).read_bytes(), channels=4)
        name = Path(path).stem.replace(".tmp", "").replace("landscape_", "landscape/")
        tf.summary.image(name, image[None], step=int(step))


class TensorBoardLogger(Logger):
    """The run's ``tensorboard/`` log (see the module docstring)."""

    def __init__(self):
        self.writer = None

    def open(self, run, start: int):
        self.cfg, self.model = run.cfg, run.model
        try:
            import tensorboard  # noqa: F401
            import tensorflow as tf
        except ImportError:
            return
        self.tf = tf
        self.writer = tf.summary.create_file_writer(str(run.rundir.tensorboard_run))
        self.exact_writer = tf.summary.create_file_writer(str(run.rundir.tensorboard_exact))
        with self.writer.as_default():
            self._layout()
            self._hparams()

    def _layout(self):
        from tensorboard.plugins.custom_scalar import layout_pb2
        from tensorboard.plugins.custom_scalar import summary as cs_summary

        what = "free energy F/N" if self.cfg.mode == "vca" else "energy E/N"
        layout = layout_pb2.Layout(category=[layout_pb2.Category(title="Physics", chart=[
            layout_pb2.Chart(title=f"variational {what} and the exact curve (run <name>_exact)",
                             multiline=layout_pb2.MultilineChartContent(tag=[r"loss/per_spin"])),
            layout_pb2.Chart(title="ground-state fraction of the training samples",
                             multiline=layout_pb2.MultilineChartContent(tag=[r"physics/ground_state_fraction"])),
            layout_pb2.Chart(title="energy per spin and its spread",
                             multiline=layout_pb2.MultilineChartContent(
                                 tag=[r"physics/energy_per_spin", r"physics/energy_std_per_spin"])),
            layout_pb2.Chart(title="schedule", multiline=layout_pb2.MultilineChartContent(tag=[r"schedule/.*"])),
        ])])
        self.tf.summary.experimental.write_raw_pb(cs_summary.pb(layout).SerializeToString(), step=0)

    def _hparams(self):
        from tensorboard.plugins.hparams import api as hp

        cfg = self.cfg.to_dict()
        names = hparam_names(self.cfg)
        values = {k: ("none" if cfg[k] is None else cfg[k]) for k in names}
        values["T0"], values["gamma0"] = self.cfg.T_start, self.cfg.gamma_start
        hp.hparams_config(hparams=[hp.HParam(k, description=FIELD_HELP.get(k)) for k in names],
                          metrics=[hp.Metric(tag, group=".") for tag in METRICS])
        hp.hparams(values)

    def write(self, row: dict, step: int):
        self.scalars(row, step)
        a = row["annealing_step"]
        # Every histogram_every annealing steps, and at the first and the last, so that a short run has some.
        if row["phase"] == "anneal" and (a % self.cfg.histogram_every == 0 or a <= 1 or
                                         a == self.cfg.annealing_steps):
            self.histograms(self.model, step)

    def scalars(self, row: dict, step: int):
        if not self.writer:
            return
        quantum = self.cfg.mode == "vqa"
        # VQA's "energy" column is the classical (diagonal) Newman-Moore energy of the samples, not <H>.
        energy = "physics/classical_energy_per_spin" if quantum else "physics/energy_per_spin"
        names = {"loss_per_spin": "loss/per_spin",
                 "energy_per_spin": energy, "energy_std_per_spin": energy.replace("energy_per", "energy_std_per"),
                 "entropy_per_spin": "physics/entropy_per_spin", "grad_norm": "training/grad_norm",
                 "ground_state_fraction": "physics/ground_state_fraction"}
        if self.cfg.mode == "vca" or self.cfg.T_start:
            names["T"] = "schedule/T"
        if self.cfg.mode == "vqa" or self.cfg.gamma_start:
            names["gamma"] = "schedule/Gamma"
        with self.writer.as_default():
            for key, tag in names.items():
                if row.get(key) not in (None, ""):
                    self.tf.summary.scalar(tag, float(row[key]), step=step, description=_DESCRIPTIONS.get(key))
        if row.get("exact_per_spin") not in (None, ""):
            with self.exact_writer.as_default():
                self.tf.summary.scalar("loss/per_spin", float(row["exact_per_spin"]), step=step,
                                       description=_DESCRIPTIONS["exact_per_spin"])

    def histograms(self, model, step: int):
        if not self.writer:
            return
        with self.writer.as_default():
            for v in model.trainable_variables:
                self.tf.summary.histogram(f"weights/{v.path}", v.numpy(), step=step)

    def images(self, paths, step: int):
        """PNG files as images (see :func:`image_summaries`)."""
        if not self.writer:
            return
        with self.writer.as_default():
            image_summaries(paths, step)
        self.writer.flush()

    def flush(self, step: int):
        if self.writer:
            self.writer.flush()
            self.exact_writer.flush()

    def close(self, summary: dict | None, step: int, success: bool = True):
        """The final metrics and the end of the HParams session."""
        if not self.writer:
            return
        from tensorboard.plugins.hparams import api_pb2
        from tensorboard.plugins.hparams import summary as hp_summary

        with self.writer.as_default():
            for tag, key in METRICS.items():
                if summary and summary.get(key) is not None:
                    self.tf.summary.scalar(tag, float(summary[key]), step=step)
            if summary is not None or not success:   # a run paused by run(n_steps) has not ended
                end = hp_summary.session_end_pb(api_pb2.STATUS_SUCCESS if success else api_pb2.STATUS_FAILURE)
                self.tf.summary.experimental.write_raw_pb(end.SerializeToString(), step=step)
        for w in (self.writer, self.exact_writer):
            w.flush()
            w.close()
        self.writer = None
