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
from ..servable import DEFAULT_SIGNATURE, NUM_SAMPLES, PREDICT_METHOD, parse_version_folder, valid_model_name

__all__ = ["LoadedModel", "ModelRetired", "ModelStore", "ServingError", "valid_model_name"]


def _versions(model_base: Path):
    """The versions under a model folder: sub-folders named by an int64 >= 1 that hold a saved_model.pb
    (anything else, e.g. "²" or 10^20, is ignored; it must not take the model down). A folder that cannot
    be read raises OSError: that is not the same as an empty one."""
    if not model_base.exists():
        return []
    found = [(parse_version_folder(p.name), p) for p in model_base.iterdir()]
    return sorted(v for v, p in found if v is not None and p.is_dir() and (p / "saved_model.pb").exists())


def check_model_base(base) -> Path:
    """The serving base directory as a Path; FileNotFoundError naming it when it is missing or a file. (No
    TensorFlow here: ``nm-tf serve`` runs this before starting TensorFlow, so the mistake costs well under a second.)"""
    base = Path(base)
    if not base.is_dir():
        raise FileNotFoundError(f"model directory {base} {'is not a directory' if base.exists() else 'does not exist'}")
    return base


class ModelRetired(ServingError):
    """The version was retired between being chosen and being run: the store picks again."""

    def __init__(self):
        super().__init__("UNAVAILABLE", "the version was unloaded; retry")


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
        self._specs = {}
        # Requests running on this version; a retired version (deleted, rewritten or replaced by a newer
        # one) closes its session only when the last of them has finished, as TF-Serving does.
        self._inflight, self._retired, self._closed = 0, False, False
        self._state = threading.Lock()
        self.dtypes = {}
        for sig in self.signatures.values():
            for ti in list(sig.inputs.values()) + list(sig.outputs.values()):
                self.dtypes[ti.name] = tf.dtypes.as_dtype(ti.dtype)

    def input_spec(self, signature: str):
        """``{input: (np dtype, shape with -1 / None rank)}``, parsed once per signature of the loaded model."""
        sig = self.signature(signature)
        name = signature or DEFAULT_SIGNATURE
        spec = self._specs.get(name)
        if spec is None:
            import tensorflow as tf

            spec = {}
            for key, ti in sig.inputs.items():
                shape = None if ti.tensor_shape.unknown_rank else [d.size for d in ti.tensor_shape.dim]
                spec[key] = (tf.dtypes.as_dtype(ti.dtype).as_numpy_dtype, shape)
            self._specs[name] = spec
        return spec

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
            budget=None, checked: bool = False) -> dict:
        """Validate the inputs, then run the signature (holding ``budget`` for its samples, if given).

        ``checked``: the caller has already passed every input through :meth:`check_input` (the gRPC front end
        does, from the declared shapes, before decoding); only the set of inputs and ``num_samples`` are checked
        here then."""
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
            if not checked:
                self.check_input(signature, key, value.dtype, value.shape, max_samples)
            if value.ndim:
                cost = max(cost, int(value.shape[0]))
            if key == NUM_SAMPLES:
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
        if len(set(names)) != len(names):
            raise ServingError("INVALID_ARGUMENT", f"output_filter names an output twice: {sorted(names)}")
        with self._state:
            if self._closed:
                raise ModelRetired()
            self._inflight += 1
        try:
            call = self._callable(tuple(sig.outputs[k].name for k in names), tuple(sorted(feeds)))
            with budget.take(cost) if budget is not None else contextlib.nullcontext():
                return dict(zip(names, call(*[feeds[k] for k in sorted(feeds)])))
        except tf.errors.InvalidArgumentError as exc:
            raise ServingError("INVALID_ARGUMENT", _short_message(exc.message)) from None
        finally:
            with self._state:
                self._inflight -= 1
                close = self._retired and self._inflight == 0 and not self._closed
                self._closed = self._closed or close
            if close:
                self.session.close()

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

    def retire(self):
        """No new request will be given this version; close it once the running ones have finished."""
        with self._state:
            self._retired = True
            close = self._inflight == 0 and not self._closed
            self._closed = self._closed or close
        if close:
            self.session.close()

    close = retire


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
    """The served models, TF-Serving's way: ``<base>/<name>/<version>/saved_model.pb``.

    * Which models, and which of their versions, follow the model config (:mod:`.model_config`): by
      default every valid child of ``base``, each serving its latest version only. A version becomes
      servable only after it loaded and warmed up; until then, and if it fails, the versions loaded before
      keep serving and :meth:`status` says what failed. A failed version is retried only when its files
      change (no work, no leak, per poll).
    * A version whose folder is deleted, that the policy no longer wants (a newer one has loaded), or that
      is rewritten in place (then reloaded) is retired: it takes no new request and closes when its
      running requests have finished.
    * Requests never touch the disk: they see what the last :meth:`refresh` found. A refresh that cannot
      read the model directory keeps serving what is loaded and reports the error in :meth:`status`.
    * Messages a client can see never contain a server path.
    """

    def __init__(self, base, max_samples: int = 100_000, names=None, log=None, max_inflight_samples=None,
                 config=None):
        import logging

        from .budget import SampleBudget

        self.base = check_model_base(base)
        self.max_samples = max_samples
        self.budget = SampleBudget(max_inflight_samples or 4 * max_samples)
        self.names = set(names) if names else None
        self.config = {m.name: m for m in config} if config else None
        self.log = log or logging.getLogger("nm_tf.serve").info
        self.loaded = {}      # (name, version) -> LoadedModel
        self.prints = {}      # (name, version) -> fingerprint of the loaded files
        self.failed = {}      # (name, version) -> (fingerprint, message)
        self.on_disk = {}     # name -> versions found by the last refresh that could read that model
        self.refresh_errors = {}   # name (or "") -> why the last refresh could not read it
        self.lock = threading.RLock()
        self.refresh()

    # ------------------------------------------------------------------ what is served
    def _served_models(self) -> list:
        from .model_config import ServedModel

        if self.config is not None:
            return list(self.config.values())
        return [ServedModel(p.name, p) for p in sorted(self.base.iterdir())
                if valid_model_name(p.name) and p.is_dir() and (self.names is None or p.name in self.names)]

    def _served(self, name):
        if self.config is not None:
            return self.config.get(name)
        from .model_config import ServedModel

        return ServedModel(name, self.base / name) if name in self.on_disk else None

    def model_names(self):
        return sorted(n for n, v in self.on_disk.items() if v or any(k[0] == n for k in self.loaded))

    def _public(self, message: str) -> str:
        """A message without server paths (the model folders' absolute and given forms)."""
        bases = {str(self.base.resolve()), str(self.base)}
        for m in (self.config or {}).values():
            bases |= {str(m.base.resolve()), str(m.base)}
        for b in sorted(bases, key=len, reverse=True):
            if b and b != ".":
                message = message.replace(b, "<model_dir>")
        return message

    # ------------------------------------------------------------------ refresh (the poller)
    def refresh(self):
        """Load new versions, reload rewritten ones, retire deleted or superseded ones."""
        try:
            models = self._served_models()
        except OSError as exc:
            self.refresh_errors = {"": f"cannot read the model directory ({exc.strerror or exc}); serving the "
                                       f"versions loaded before"}
            self.log(f"refresh failed: {exc}")
            return
        errors = {}
        for served in models:
            try:
                versions = _versions(served.base)
            except OSError as exc:
                errors[served.name] = (f"cannot read the model's folder ({exc.strerror or exc}); serving the "
                                       f"versions loaded before")
                self.log(f"refresh of {served.name} failed: {exc}")
                continue
            self.on_disk[served.name] = versions
            self._sync(served, versions)
        for name in set(self.on_disk) - {m.name for m in models}:     # a model folder that went away
            for key in [k for k in self.loaded if k[0] == name]:
                self._unload(key, "its model folder was removed")
            del self.on_disk[name]
        self.refresh_errors = errors

    def _sync(self, served, versions):
        name = served.name
        wanted = served.wanted(versions)
        for v in wanted:               # load first, so that a retired version is always replaced
            key = (name, v)
            if key not in self.loaded:
                self._try_load(served, v)
            elif _fingerprint(served.base / str(v)) != self.prints[key]:
                self._try_load(served, v, replace=True)
        for key in [k for k in self.loaded if k[0] == name and k[1] not in versions]:
            self._unload(key, "its directory was removed")
        if any((name, v) in self.loaded for v in wanted):
            for key in [k for k in self.loaded if k[0] == name and k[1] not in wanted]:
                self._unload(key, "the version policy serves newer versions")

    def _try_load(self, served, version: int, replace: bool = False):
        key = (served.name, version)
        path = served.base / str(version)
        fp = _fingerprint(path)
        if key in self.failed and self.failed[key][0] == fp:
            return None                                  # failed with these very files: wait for a change
        try:
            return self._load(served, version, replace=replace)
        except Exception as exc:  # noqa: BLE001 - a broken export must not stop serving the others
            message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            self.failed[key] = (fp, self._public(message))
            self.log(f"could not load {served.name} version {version}: {message}")
            return None

    def _load(self, served, version: int, replace: bool = False) -> LoadedModel:
        key = (served.name, version)
        path = served.base / str(version)
        fp = _fingerprint(path)
        model = LoadedModel(served.name, version, path)
        try:
            warm = model.replay_warmup()
        except Exception:
            model.close()
            raise
        with self.lock:
            old = self.loaded.get(key)
            self.loaded[key], self.prints[key] = model, fp
            self.failed.pop(key, None)
        if old is not None:
            old.retire()
        self.log(f"{'reloaded' if old else 'loaded'} {served.name} version {version} ({warm} warm-up requests)")
        return model

    def _unload(self, key, why: str):
        with self.lock:
            model = self.loaded.pop(key, None)
            self.prints.pop(key, None)
        if model is not None:
            model.retire()
            self.log(f"unloaded {key[0]} version {key[1]}: {why}")

    # ------------------------------------------------------------------ requests
    def get(self, name: str, version: int | None = None, label: str | None = None) -> LoadedModel:
        """The loaded version a request names: the latest (``version`` and ``label`` None), a version, or a
        label of the model config."""
        served = self._served(name) if valid_model_name(name) else None
        with self.lock:
            mine = sorted(v for (n, v) in self.loaded if n == name)
            if served is None and not mine:
                raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})")
            if label is not None:
                labels = served.labels if served is not None else {}
                if label not in labels:
                    raise ServingError("INVALID_ARGUMENT", f"Unrecognized servable version label: {label!r}")
                version = labels[label]
                if version not in mine:
                    raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version}) "
                                                    f"(label {label!r})")
            if version is None:
                if not mine:
                    failed = [f"version {v}: {m}" for (n, v), (_, m) in sorted(self.failed.items()) if n == name]
                    raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name})"
                                       + (f" (failed to load: {'; '.join(failed)})" if failed else ""))
                return self.loaded[(name, mine[-1])]
            if version in mine:
                return self.loaded[(name, version)]
        why = self.failed.get((name, version))
        raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version})"
                           + (f" (failed to load: {why[1]})" if why else ""))

    def run(self, name, version, label, signature, inputs, output_filter=(), checked_by=None):
        """``(model, outputs)``: run a signature on the version the request names; a version retired between
        being chosen and being run is chosen again (it only happens while versions change). ``checked_by``: the
        loaded model whose :meth:`LoadedModel.check_input` the caller already applied to every input (not
        repeated when that model is the one run)."""
        for _ in range(3):
            model = self.get(name, version, label)
            try:
                return model, model.run(signature, inputs, output_filter, self.max_samples, budget=self.budget,
                                        checked=model is checked_by)
            except ModelRetired:
                continue
        raise ServingError("UNAVAILABLE", f"model {name}: versions are changing; retry")

    def status(self, name: str, version: int | None = None, label: str | None = None):
        """TF-Serving's ``model_version_status``: AVAILABLE (loaded), LOADING (wanted, not yet or failed,
        with the error), END (on disk, not served)."""
        if label is not None:
            version = self.get(name, label=label).version
        served = self._served(name) if valid_model_name(name) else None
        with self.lock:
            on_disk = self.on_disk.get(name, [])
            loaded = {v for (n, v) in self.loaded if n == name}
        shown = sorted(set(on_disk) | loaded)
        if version is not None:
            shown = [v for v in shown if v == version]
        if not shown:
            raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}"
                               + (f" version {version}" if version is not None else ""))
        wanted = set(served.wanted(on_disk)) if served is not None else set()
        refresh = self.refresh_errors.get(name) or self.refresh_errors.get("")
        out = []
        for v in reversed(shown):
            key = (name, v)
            if key in self.loaded:
                state, code, msg = "AVAILABLE", "OK", refresh or ""
            elif key in self.failed:
                state, code, msg = "LOADING", "UNKNOWN", self.failed[key][1]
            elif v in wanted:
                state, code, msg = "LOADING", "OK", ""
            else:
                state, code, msg = "END", "OK", ""
            out.append({"version": str(v), "state": state, "status": {"error_code": code, "error_message": msg}})
        return out

    def close(self):
        for m in list(self.loaded.values()):
            m.retire()
