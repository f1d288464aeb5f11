"""A run's TensorBoard log, laid out for physics.

* Scalars in groups: ``loss/variational`` and ``loss/exact`` (F/N for VCA, E/N for VQA, and the exact
  F(T)/N or e0(Gamma)/N), ``physics/...`` (energy, its spread, entropy per spin), ``schedule/T`` or
  ``schedule/Gamma`` (only what the mode anneals), ``training/grad_norm``.
* A custom-scalars layout (the "Custom Scalars" tab) overlays the variational loss and the exact curve in
  one chart.
* HParams: the physics parameters of the run as hyper-parameters, and the final energy per spin,
  ground-state fraction, residual energy and median deviation from the exact curve as metrics; the session
  ends with its status (success, or failure when the run stopped).

Silently off when TensorBoard is not installed.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["RunBoard"]

HPARAMS = ("mode", "L", "T0", "gamma0", "T_final", "gamma_final", "schedule", "warmup", "annealing_steps",
           "train_steps", "samples", "minibatch", "hidden", "cell", "ordering", "lr", "seed", "penalty", "J")
METRICS = {"final/energy_per_spin": "energy_per_spin_mean", "final/ground_state_fraction": "ground_state_fraction",
           "final/residual_energy_per_spin": "residual_energy_per_spin",
           "final/exact_rel_deviation_median": "exact_rel_deviation_median"}


class RunBoard:
    def __init__(self, logdir: Path, cfg):
        self.writer, self.cfg = None, cfg
        try:
            import tensorboard  # noqa: F401
            import tensorflow as tf
        except ImportError:
            return
        self.tf = tf
        self.writer = tf.summary.create_file_writer(str(logdir))
        with self.writer.as_default():
            self._layout()
            self._hparams()

    def _layout(self):
        from tensorboard.plugins.custom_scalar import layout_pb2
        from tensorboard.plugins.custom_scalar import summary as cs_summary

        what = "free energy F/N" if self.cfg.mode == "vca" else "energy E/N"
        layout = layout_pb2.Layout(category=[layout_pb2.Category(title="Physics", chart=[
            layout_pb2.Chart(title=f"variational {what} and the exact curve",
                             multiline=layout_pb2.MultilineChartContent(tag=[r"loss/variational", r"loss/exact"])),
            layout_pb2.Chart(title="energy per spin and its spread",
                             multiline=layout_pb2.MultilineChartContent(
                                 tag=[r"physics/energy_per_spin", r"physics/energy_std_per_spin"])),
            layout_pb2.Chart(title="schedule", multiline=layout_pb2.MultilineChartContent(tag=[r"schedule/.*"])),
        ])])
        self.tf.summary.experimental.write_raw_pb(cs_summary.pb(layout).SerializeToString(), step=0)

    def _hparams(self):
        from tensorboard.plugins.hparams import api as hp

        cfg = self.cfg.to_dict()
        values = {k: ("none" if cfg[k] is None else cfg[k]) for k in HPARAMS}
        values["T0"], values["gamma0"] = self.cfg.T_start, self.cfg.gamma_start
        hp.hparams_config(hparams=[hp.HParam(k) for k in HPARAMS],
                          metrics=[hp.Metric(tag, group=".") for tag in METRICS])
        hp.hparams(values)

    def scalars(self, row: dict, step: int):
        if not self.writer:
            return
        names = {"loss_per_spin": "loss/variational", "exact_per_spin": "loss/exact",
                 "energy_per_spin": "physics/energy_per_spin", "energy_std_per_spin": "physics/energy_std_per_spin",
                 "entropy_per_spin": "physics/entropy_per_spin", "grad_norm": "training/grad_norm"}
        if self.cfg.mode == "vca" or self.cfg.T_start:
            names["T"] = "schedule/T"
        if self.cfg.mode == "vqa" or self.cfg.gamma_start:
            names["gamma"] = "schedule/Gamma"
        with self.writer.as_default():
            for key, tag in names.items():
                if row[key] != "":
                    self.tf.summary.scalar(tag, float(row[key]), step=step)

    def histograms(self, model, step: int):
        if not self.writer:
            return
        with self.writer.as_default():
            for v in model.trainable_variables:
                self.tf.summary.histogram(f"weights/{v.path}", v.numpy(), step=step)

    def finish(self, summary: dict | None, step: int, success: bool = True):
        """The final metrics and the end of the HParams session."""
        if not self.writer:
            return
        from tensorboard.plugins.hparams import api_pb2
        from tensorboard.plugins.hparams import summary as hp_summary

        with self.writer.as_default():
            for tag, key in METRICS.items():
                if summary and summary.get(key) is not None:
                    self.tf.summary.scalar(tag, float(summary[key]), step=step)
            end = hp_summary.session_end_pb(api_pb2.STATUS_SUCCESS if success else api_pb2.STATUS_FAILURE)
            self.tf.summary.experimental.write_raw_pb(end.SerializeToString(), step=step)
        self.writer.flush()

    def close(self):
        if self.writer:
            self.writer.flush()
