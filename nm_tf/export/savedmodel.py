"""Write a trained model as a SavedModel in TF-Serving's layout ``<base>/<name>/<version>/``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .signatures import XLA_BUCKETS, make_serving_functions
from ..servable import DEFAULT_SIGNATURE, HAMMING_STATS, NUM_SAMPLES, SAMPLE, SEED

__all__ = ["export_metadata", "export_model", "export_run", "load_run_model", "next_version", "write_warmup"]

METADATA_FILE = "nm_tf.json"
WARMUP_FILE = "tf_serving_warmup_requests"


def export_metadata(path) -> dict:
    """The ``nm_tf.json`` written beside an exported version ``MODELS/NAME/VERSION`` ({} when absent or
    unreadable: a SavedModel from elsewhere)."""
    try:
        meta = json.loads((Path(path) / "assets.extra" / METADATA_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def next_version(base: Path) -> int:
    from ..servable import parse_version_folder

    versions = [parse_version_folder(p.name) for p in base.glob("*") if p.is_dir()]
    return max((v for v in versions if v is not None), default=0) + 1


def load_run_model(workdir):
    """Rebuild the model of a run directory with its final (or latest) weights: ``(model, cfg)``."""
    from ..annealing.restore import restore_model

    model, cfg, _ = restore_model(workdir, manual_backprop=False)
    return model, cfg


def export_model(model, path, J: float = 1.0, metadata=None, warmup: bool = True, xla: bool = True,
                 symmetry: str = "none") -> Path:
    """Export ``model`` to ``path`` (a version directory) with the serving signatures.

    Signatures (method ``tensorflow/serving/predict``): ``sample`` (also
    ``serving_default``), ``log_prob`` and ``hamming_stats``; see
    :mod:`nm_tf.export.signatures`. Variables are tracked through
    ``keras.export.ExportArchive`` so TF-Serving's session loader finds them.

    ``xla`` (default): the sampler runs XLA-compiled in the batch sizes of
    :data:`~nm_tf.export.signatures.XLA_BUCKETS`, each compiled by a warm-up record at load
    time (TF-Serving needs ``--xla_cpu_compilation_enabled=true`` on CPU); ``xla=False``
    exports the plain graph sampler. Both give the same samples for the same seed.
    """
    import os
    import shutil

    from ..errors import RunError

    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(f"export directory {path} already exists and is not empty")
    # Written beside the version folder and renamed into place: a failed export (a full disk) leaves no
    # partial version that a server would try to load or that would block the next export. The name
    # starts with "." so a server never takes it for a version.
    final, path = path, path.parent / f".{path.name}.partial-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        _write_export(model, path, J, metadata, warmup, xla, symmetry)
        if final.exists():
            final.rmdir()           # empty (checked above)
        os.replace(path, final)
    except OSError as exc:
        shutil.rmtree(path, ignore_errors=True)
        raise RunError(f"cannot write the export {final}: {exc.strerror or exc}") from None
    return final


def _write_export(model, path: Path, J, metadata, warmup, xla, symmetry):
    import keras
    import tensorflow as tf

    from ..models.symmetry import SymmetryGroup

    buckets = XLA_BUCKETS if xla else None
    group = SymmetryGroup(model.L, symmetry) if symmetry != "none" else None
    fns = make_serving_functions(model, J, xla_buckets=buckets, symmetry=group)
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (fn, sig) in fns.items():
        archive.add_endpoint(name, tf.function(fn, autograph=False), input_signature=sig)
    archive.add_endpoint(DEFAULT_SIGNATURE, tf.function(fns[SAMPLE][0], autograph=False),
                         input_signature=fns[SAMPLE][1])
    archive.write_out(str(path), verbose=False)
    extra = path / "assets.extra"
    extra.mkdir(exist_ok=True)
    meta = {"L": model.L, "n_sites": model.n_sites, "hidden": model.hidden, "cell": model.cell_type,
            "ordering": model.ordering_name, "prob_floor": model.prob_floor, "J": J,
            "encoding": "int8 bits, 1 = spin down, site x + L*y",
            "xla_buckets": list(buckets) if buckets else None,
            "symmetry": symmetry, "symmetry_group_order": group.order if group else 1,
            **(metadata or {})}
    (extra / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    if warmup:
        write_warmup(extra / WARMUP_FILE, sizes=buckets or (1, 100, 1000))
    return path


def write_warmup(path: Path, sizes=(1, 100, 1000)):
    """TF-Serving warm-up records: one PredictionLog per signature and batch size."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature in (SAMPLE, HAMMING_STATS):
            for size in sizes:
                req = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(signature_name=signature))
                req.inputs[NUM_SAMPLES].CopyFrom(tf.make_tensor_proto(np.int32(size)))
                req.inputs[SEED].CopyFrom(tf.make_tensor_proto(np.array([0, 0], dtype=np.int64)))
                log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=req))
                writer.write(log.SerializeToString())


def existing_export(workdir, model_dir, name: str):
    """The newest version under ``model_dir/name`` exported from this finished run with its final
    weights (same run path and summary), or None."""
    from ..annealing.rundir import RunDir

    run = RunDir(workdir)
    base = Path(model_dir) / name
    if not run.finished or not base.is_dir():
        return None
    from ..servable import parse_version_folder

    versions = sorted(v for v in (parse_version_folder(p.name) for p in base.iterdir() if p.is_dir()) if v)
    if not versions:
        return None
    path = base / str(versions[-1])
    meta = export_metadata(path)
    # The folder name and the summary (which holds the run's commit, seed and every final number) identify it.
    same = meta.get("run") == run.path.resolve().name and meta.get("summary") == run.summary()
    return path if same and (path / "saved_model.pb").exists() else None


def export_run(workdir, model_dir, name: str, version=None, xla: bool = True, symmetry: str | None = None,
               allow_unfinished: bool = False) -> Path:
    """Export the final weights of a run to ``model_dir/name/version`` (next free version by default).
    ``symmetry`` None: the distribution the run trained (``p_G`` for a run annealed with ``--symmetry``).
    A run that has not finished is refused unless ``allow_unfinished`` (then its latest checkpoint)."""
    from . import check_export
    from ..annealing.restore import restore_model

    run = check_export(workdir, name, version, allow_unfinished)
    # The plain forward pass: a served model is never differentiated, and the training model's pass (wrapped for
    # the hand-written backward pass, keeping every hidden state) compiled 30 % slower at L = 16 and sampled 15 %
    # slower without XLA (benchmarks/README.md, "The served sampler's path").
    model, cfg, step = restore_model(workdir, manual_backprop=False)
    symmetry = cfg.symmetry if symmetry is None else symmetry
    base = Path(model_dir) / name
    base.mkdir(parents=True, exist_ok=True)
    if version is None:
        version = next_version(base)
    # The run's folder name only: an absolute path would tell every client of the server where it keeps runs.
    meta = {"run": run.path.resolve().name, "mode": cfg.mode, "seed": cfg.seed, "step": int(step),
            "finished": run.finished}
    if run.finished:
        meta["summary"] = run.summary()
    return export_model(model, base / str(int(version)), J=cfg.J, metadata=meta, xla=xla, symmetry=symmetry)
