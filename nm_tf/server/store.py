"""Models loaded the way TF-Serving loads them, and requests checked the way it checks them.

Each version is loaded with the TF1 session loader into its own graph and
session (``tf.compat.v1.saved_model.loader.load`` with tag ``serve``), its
warm-up records are replayed, and signatures run by feeding the tensors the
SignatureDef names. ``ServingError`` carries a gRPC-style code
(``INVALID_ARGUMENT`` / ``NOT_FOUND``) that both front ends translate.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np

__all__ = ["LoadedModel", "ModelStore", "ServingError", "valid_model_name"]

PREDICT_METHOD = "tensorflow/serving/predict"
DEFAULT_SIGNATURE = "serving_default"
# A served model is a direct child directory of the model base. Its name is one path component from a
# strict set (no separators, no leading dot, so never "." or ".."): a request can never name a path.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def valid_model_name(name) -> bool:
    return isinstance(name, str) and MODEL_NAME.fullmatch(name) is not None


class ServingError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _versions(model_base: Path):
    if not model_base.is_dir():
        return []
    return sorted(int(p.name) for p in model_base.iterdir()
                  if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").exists())


def _short_message(message: str) -> str:
    """The line of a TF runtime error that names the problem (our in-graph assertions)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    for ln in lines:
        if "must" in ln or "assertion failed" in ln.lower():
            return ln.split("[[")[0].strip()
    return lines[-1].split("[[")[0].strip() if lines else "invalid argument"


class LoadedModel:
    """One servable version: a session and its predict signatures."""

    def __init__(self, name: str, version: int, path: Path):
        import tensorflow as tf

        self.name, self.version, self.path = name, version, path
        tf.get_logger().setLevel("ERROR")  # the TF1 loader's deprecation notice is expected here
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        meta = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], str(path))
        self.signatures = {k: v for k, v in meta.signature_def.items() if v.method_name == PREDICT_METHOD}
        self.dtypes = {}
        for sig in self.signatures.values():
            for ti in list(sig.inputs.values()) + list(sig.outputs.values()):
                self.dtypes[ti.name] = tf.dtypes.as_dtype(ti.dtype)

    def input_spec(self, signature: str):
        """``{input: (np dtype, shape with -1 / None rank)}``."""
        import tensorflow as tf

        sig = self.signature(signature)
        out = {}
        for key, ti in sig.inputs.items():
            shape = None if ti.tensor_shape.unknown_rank else [d.size for d in ti.tensor_shape.dim]
            out[key] = (tf.dtypes.as_dtype(ti.dtype).as_numpy_dtype, shape)
        return out

    def signature(self, name: str):
        name = name or DEFAULT_SIGNATURE
        if name not in self.signatures:
            raise ServingError("INVALID_ARGUMENT" if self.signatures else "NOT_FOUND",
                               f"Serving signature name: \"{name}\" not found in signature def "
                               f"(available: {', '.join(sorted(self.signatures))})")
        return self.signatures[name]

    def check_input(self, signature: str, key: str, dtype, shape, max_samples: int | None = None):
        """Check one input's dtype and shape against the signature *before* it is decoded or run.

        A batch axis (``-1`` in the signature) holds at most ``max_samples`` rows, so a request's
        declared shape can never make the server allocate more than that.
        """
        spec = self.input_spec(signature)
        if key not in spec:
            raise ServingError("INVALID_ARGUMENT", f"signature {signature or DEFAULT_SIGNATURE!r} has no input "
                                                   f"{key!r} (inputs: {sorted(spec)})")
        want, want_shape = spec[key]
        if np.dtype(dtype) != np.dtype(want):
            raise ServingError("INVALID_ARGUMENT",
                               f"input {key!r} must be {np.dtype(want).name}, got {np.dtype(dtype).name}")
        shape = [int(d) for d in shape]
        if want_shape is not None and (len(shape) != len(want_shape) or
                                       any(s not in (-1, v) for s, v in zip(want_shape, shape))):
            raise ServingError("INVALID_ARGUMENT",
                               f"input {key!r} must have shape {['?' if s == -1 else s for s in want_shape]}, "
                               f"got {shape}")
        if any(d < 0 for d in shape):
            raise ServingError("INVALID_ARGUMENT", f"input {key!r} has a negative dimension: {shape}")
        if max_samples is not None and shape and shape[0] > max_samples:
            raise ServingError("INVALID_ARGUMENT",
                               f"input {key!r} has {shape[0]} rows; this server takes at most {max_samples}")

    def max_request_bytes(self, max_samples: int) -> int:
        """A generous bound on the JSON text of a request whose batches hold ``max_samples`` rows."""
        per_row = 1
        for key, (_, shape) in self.input_spec_all().items():
            if shape:
                per_row = max(per_row, int(np.prod([max(d, 1) for d in shape[1:]])))
        return max_samples * per_row * 8 + (1 << 20)

    def input_spec_all(self):
        out = {}
        for name in self.signatures:
            out.update(self.input_spec(name))
        return out

    def run(self, signature: str, inputs: dict, output_filter=(), max_samples: int | None = None) -> dict:
        import tensorflow as tf

        sig = self.signature(signature)
        spec = self.input_spec(signature)
        missing = sorted(set(spec) - set(inputs))
        extra = sorted(set(inputs) - set(spec))
        if missing or extra:
            raise ServingError("INVALID_ARGUMENT",
                               f"signature {signature or DEFAULT_SIGNATURE!r} expects inputs {sorted(spec)}; "
                               f"missing {missing}, unexpected {extra}")
        feeds = {}
        for key, value in inputs.items():
            value = np.asarray(value)
            self.check_input(signature, key, value.dtype, value.shape, max_samples)
            if key == "num_samples":
                n = int(value)
                if n <= 0:
                    raise ServingError("INVALID_ARGUMENT", f"num_samples must be > 0, got {n}")
                if max_samples is not None and n > max_samples:
                    raise ServingError("INVALID_ARGUMENT",
                                       f"num_samples must be <= {max_samples} on this server, got {n}")
            feeds[sig.inputs[key].name] = value
        names = list(output_filter) or list(sig.outputs)
        unknown = sorted(set(names) - set(sig.outputs))
        if unknown:
            raise ServingError("INVALID_ARGUMENT", f"output_filter names unknown outputs {unknown}")
        try:
            return self.session.run({k: sig.outputs[k].name for k in names}, feeds)
        except tf.errors.InvalidArgumentError as exc:
            raise ServingError("INVALID_ARGUMENT", _short_message(exc.message)) from None

    def replay_warmup(self) -> int:
        import tensorflow as tf

        path = self.path / "assets.extra" / "tf_serving_warmup_requests"
        if not path.exists():
            return 0
        from tensorflow_serving.apis import prediction_log_pb2

        count = 0
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            log = prediction_log_pb2.PredictionLog.FromString(record)
            req = log.predict_log.request
            self.run(req.model_spec.signature_name,
                     {k: tf.make_ndarray(v) for k, v in req.inputs.items()})
            count += 1
        return count

    def close(self):
        self.session.close()


class ModelStore:
    """Every model under ``base``: ``base/<name>/<version>/saved_model.pb``.

    The newest version of each model is served by default and loaded eagerly
    (with warm-up); an older version is loaded on first request. ``refresh``
    (called by a polling thread) picks up new models and versions.
    """

    def __init__(self, base, max_samples: int = 100_000, names=None, log=print):
        self.base = Path(base)
        if not self.base.is_dir():
            raise FileNotFoundError(f"model directory {self.base} does not exist")
        self.max_samples = max_samples
        self.names = set(names) if names else None
        self.log = log
        self.loaded = {}
        self.lock = threading.Lock()
        self.refresh()

    def model_names(self):
        names = [p.name for p in self.base.iterdir() if valid_model_name(p.name) and p.is_dir() and _versions(p)]
        return sorted(n for n in names if self.names is None or n in self.names)

    def _versions_of(self, name) -> list:
        """Versions of a served model; [] for any name that is not a direct, valid child of the base."""
        if not valid_model_name(name) or (self.names is not None and name not in self.names):
            return []
        return _versions(self.base / name)

    def refresh(self):
        for name in self.model_names():
            latest = _versions(self.base / name)[-1]
            if (name, latest) not in self.loaded:
                self._load(name, latest)

    def _load(self, name: str, version: int) -> LoadedModel:
        with self.lock:
            if (name, version) in self.loaded:
                return self.loaded[(name, version)]
            model = LoadedModel(name, version, self.base / name / str(version))
            warm = model.replay_warmup()
            self.loaded[(name, version)] = model
        self.log(f"loaded {name} version {version} ({warm} warm-up requests)")
        return model

    def get(self, name: str, version: int | None = None) -> LoadedModel:
        versions = self._versions_of(name)
        if not versions:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
        if version is None:
            version = versions[-1]
        elif version not in versions:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")
        return self.loaded.get((name, version)) or self._load(name, version)

    def status(self, name: str, version: int | None = None):
        versions = self._versions_of(name)
        if not versions or (version is not None and version not in versions):
            raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}"
                               + (f" version {version}" if version is not None else ""))
        shown = [version] if version is not None else versions
        return [{"version": str(v), "state": "AVAILABLE" if (name, v) in self.loaded or v == versions[-1]
                 else "END", "status": {"error_code": "OK", "error_message": ""}} for v in reversed(shown)]

    def close(self):
        for m in self.loaded.values():
            m.close()
