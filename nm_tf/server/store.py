"""Models loaded the way TF-Serving loads them, and requests checked the way it checks them.

Each version is loaded with the TF1 session loader into its own graph and
session (``tf.compat.v1.saved_model.loader.load`` with tag ``serve``), its
warm-up records are replayed, and signatures run by feeding the tensors the
SignatureDef names. ``ServingError`` carries a gRPC-style code
(``INVALID_ARGUMENT`` / ``NOT_FOUND``) that both front ends translate.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..errors import ServingError
from ..servable import parse_version_folder, valid_model_name

__all__ = ["LoadedModel", "ModelStore", "ServingError", "valid_model_name"]

PREDICT_METHOD = "tensorflow/serving/predict"
DEFAULT_SIGNATURE = "serving_default"
def _versions(model_base: Path):
    """The versions under a model folder: sub-folders named by an int64 >= 1 that hold a saved_model.pb
    (anything else, e.g. "²" or 10^20, is ignored; it must not take the model down)."""
    try:
        if not model_base.is_dir():
            return []
        found = [(parse_version_folder(p.name), p) for p in model_base.iterdir()]
        return sorted(v for v, p in found if v is not None and p.is_dir() and (p / "saved_model.pb").exists())
    except OSError:
        return []


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
        self._callables, self._callables_lock = {}, threading.Lock()
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

    def max_request_values(self, max_samples: int) -> int:
        """The most numbers a request whose batches hold ``max_samples`` rows can carry (all inputs)."""
        total = 0
        for key, (_, shape) in self.input_spec_all().items():
            dims = [max(d, 1) for d in (shape or [])]
            total += max_samples * int(np.prod(dims[1:])) if dims else 1
        return total

    def input_spec_all(self):
        out = {}
        for name in self.signatures:
            out.update(self.input_spec(name))
        return out

    def run(self, signature: str, inputs: dict, output_filter=(), max_samples: int | None = None,
            budget=None) -> dict:
        """Validate the inputs, then run the signature (holding ``budget`` for its samples, if given)."""
        import contextlib

        import tensorflow as tf

        sig = self.signature(signature)
        spec = self.input_spec(signature)
        missing = sorted(set(spec) - set(inputs))
        extra = sorted(set(inputs) - set(spec))
        if missing or extra:
            raise ServingError("INVALID_ARGUMENT",
                               f"signature {signature or DEFAULT_SIGNATURE!r} expects inputs {sorted(spec)}; "
                               f"missing {missing}, unexpected {extra}")
        feeds, cost = {}, 1
        for key, value in inputs.items():
            value = np.asarray(value)
            self.check_input(signature, key, value.dtype, value.shape, max_samples)
            if value.ndim:
                cost = max(cost, int(value.shape[0]))
            if key == "num_samples":
                n = int(value)
                cost = max(cost, n)
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
        call = self._callable(tuple(sig.outputs[k].name for k in names), tuple(sorted(feeds)))
        try:
            with budget.take(cost) if budget is not None else contextlib.nullcontext():
                return dict(zip(names, call(*[feeds[k] for k in sorted(feeds)])))
        except tf.errors.InvalidArgumentError as exc:
            raise ServingError("INVALID_ARGUMENT", _short_message(exc.message)) from None

    def _callable(self, fetches: tuple, feeds: tuple):
        """A compiled session call per (outputs, inputs): skips Session.run's per-call parsing of the
        fetch and feed structures (a fixed cost that matters for small requests)."""
        with self._callables_lock:
            call = self._callables.get((fetches, feeds))
            if call is None:
                call = self._callables[(fetches, feeds)] = self.session.make_callable(list(fetches), list(feeds))
            return call

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


def _fingerprint(path: Path):
    """What changes when a version directory is (re)written: the graph file and the variables index."""
    out = []
    for f in (path / "saved_model.pb", path / "variables" / "variables.index"):
        try:
            st = f.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


class ModelStore:
    """Every model under ``base``: ``base/<name>/<version>/saved_model.pb``, TF-Serving's way.

    * The newest version of each model is loaded (with its warm-up) by :meth:`refresh`, which a
      polling thread calls. It becomes the default only after it loaded and warmed up; until then,
      and if it fails, the previous version keeps serving and :meth:`status` says what failed.
      A failed version is retried only when its files change (no work, no leak, per poll).
    * A version whose directory is deleted is unloaded; a version rewritten in place (re-export
      of the same number) is reloaded.
    * An older version that is still on disk is loaded on its first request.
    """

    def __init__(self, base, max_samples: int = 100_000, names=None, log=print, max_inflight_samples=None):
        from .budget import SampleBudget

        self.base = Path(base)
        if not self.base.is_dir():
            raise FileNotFoundError(f"model directory {self.base} "
                                    f"{'is not a directory' if self.base.exists() else 'does not exist'}")
        self.max_samples = max_samples
        self.budget = SampleBudget(max_inflight_samples or 4 * max_samples)
        self.names = set(names) if names else None
        self.log = log
        self.loaded = {}      # (name, version) -> LoadedModel
        self.prints = {}      # (name, version) -> fingerprint of the loaded files
        self.failed = {}      # (name, version) -> (fingerprint, message)
        self.lock = threading.RLock()
        self.refresh()

    def model_names(self):
        names = [p.name for p in self.base.iterdir() if valid_model_name(p.name) and p.is_dir() and _versions(p)]
        return sorted(n for n in names if self.names is None or n in self.names)

    def _versions_of(self, name) -> list:
        """Versions on disk of a served model; [] for any name that is not a direct, valid child of the base."""
        if not valid_model_name(name) or (self.names is not None and name not in self.names):
            return []
        return _versions(self.base / name)

    def refresh(self):
        """Load new versions, reload rewritten ones, unload deleted ones (called by the poller)."""
        on_disk = {name: self._versions_of(name) for name in self.model_names()}
        for key in [k for k in self.loaded if k[1] not in on_disk.get(k[0], [])]:
            self._unload(key, "its directory was removed")
        for name, versions in on_disk.items():
            for v in versions:
                key = (name, v)
                if key in self.loaded and _fingerprint(self.base / name / str(v)) != self.prints[key]:
                    self._try_load(name, v, replace=True)
            latest = versions[-1]
            if (name, latest) not in self.loaded:
                self._try_load(name, latest)

    def _try_load(self, name: str, version: int, replace: bool = False):
        key = (name, version)
        path = self.base / name / str(version)
        fp = _fingerprint(path)
        if key in self.failed and self.failed[key][0] == fp:
            return None                                  # failed with these very files: wait for a change
        try:
            return self._load(name, version, replace=replace)
        except Exception as exc:  # noqa: BLE001 - a broken export must not stop serving the others
            message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            self.failed[key] = (fp, message)
            self.log(f"could not load {name} version {version}: {message}")
            return None

    def _load(self, name: str, version: int, replace: bool = False) -> LoadedModel:
        key = (name, version)
        path = self.base / name / str(version)
        with self.lock:
            if key in self.loaded and not replace:
                return self.loaded[key]
            fp = _fingerprint(path)
            model = LoadedModel(name, version, path)
            try:
                warm = model.replay_warmup()
            except Exception:
                model.close()
                raise
            old = self.loaded.get(key)
            self.loaded[key], self.prints[key] = model, fp
            self.failed.pop(key, None)
        if old is not None:
            old.close()
        self.log(f"{'reloaded' if old else 'loaded'} {name} version {version} ({warm} warm-up requests)")
        return model

    def _unload(self, key, why: str):
        with self.lock:
            model = self.loaded.pop(key, None)
            self.prints.pop(key, None)
        if model is not None:
            model.close()
            self.log(f"unloaded {key[0]} version {key[1]}: {why}")

    def get(self, name: str, version: int | None = None) -> LoadedModel:
        if not self._versions_of(name) and not any(k[0] == name for k in self.loaded):
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
        if version is None:
            ready = sorted(v for (n, v) in self.loaded if n == name)
            if not ready:
                failed = [f"version {v}: {m}" for (n, v), (_, m) in sorted(self.failed.items()) if n == name]
                raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})"
                                   + (f" (failed to load: {'; '.join(failed)})" if failed else ""))
            return self.loaded[(name, ready[-1])]
        if (name, version) in self.loaded:
            return self.loaded[(name, version)]
        if version not in self._versions_of(name):
            raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})")
        model = self._try_load(name, version)
        if model is None:
            raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version}) "
                                            f"(failed to load: {self.failed[(name, version)][1]})")
        return model

    def status(self, name: str, version: int | None = None):
        """TF-Serving's ``model_version_status``: AVAILABLE (loaded), LOADING (not yet / failed, with
        the error), END (on disk, not loaded)."""
        on_disk = self._versions_of(name)
        shown = sorted(set(on_disk) | {v for (n, v) in self.loaded if n == name})
        if version is not None:
            shown = [v for v in shown if v == version]
        if not shown:
            raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}"
                               + (f" version {version}" if version is not None else ""))
        out = []
        for v in reversed(shown):
            key = (name, v)
            if key in self.loaded:
                state, code, msg = "AVAILABLE", "OK", ""
            elif key in self.failed:
                state, code, msg = "LOADING", "UNKNOWN", self.failed[key][1]
            elif on_disk and v == on_disk[-1]:
                state, code, msg = "LOADING", "OK", ""
            else:
                state, code, msg = "END", "OK", ""
            out.append({"version": str(v), "state": state, "status": {"error_code": code, "error_message": msg}})
        return out

    def close(self):
        for m in self.loaded.values():
            m.close()
