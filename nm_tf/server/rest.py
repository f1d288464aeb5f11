"""TF-Serving's REST API over a ModelStore.

``GET /v1/models/NAME[/versions/V]``, ``GET .../metadata``,
``POST .../:predict`` with ``{"signature_name", "inputs"}`` (columnar, answered
as ``{"outputs": ...}``) or ``{"instances": [...]}`` (row format, answered as
``{"predictions": [...]}``). Errors: 400 / 404 with ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np

from .store import DEFAULT_SIGNATURE, ServingError
from ..errors import UsageError

__all__ = ["make_rest_server"]

_ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
                    r"(?P<action>/metadata|:predict)?$")
_HTTP = {"INVALID_ARGUMENT": 400, "NOT_FOUND": 404, "RESOURCE_EXHAUSTED": 503}
MAX_BODY = 64 << 20


def _digits_json(arr: np.ndarray) -> bytes:
    """JSON text of a 2-D array of single-digit integers (sampled bits), built without Python lists:
    ``[[0,1,...],[...]]``. ``tolist`` + ``json.dumps`` of 1000 x 25 bits cost more than sampling them."""
    rows, cols = arr.shape
    line = np.full((rows, 2 * cols + 1), ord(","), dtype=np.uint8)
    line[:, 0], line[:, -1] = ord("["), ord("]")
    line[:, 1:-1:2] = arr.astype(np.uint8) + ord("0")
    text = np.concatenate([line, np.full((rows, 1), ord(","), np.uint8)], axis=1).ravel()[:-1]
    return b"[" + text.tobytes() + b"]"


def _json_value(v: np.ndarray) -> bytes:
    if v.ndim == 2 and v.size and np.issubdtype(v.dtype, np.integer) and v.min() >= 0 and v.max() <= 9:
        return _digits_json(v)
    return json.dumps(v.tolist()).encode()


def outputs_json(outputs: dict) -> bytes:
    """The columnar predict answer ``{"outputs": ...}`` for a dict of NumPy outputs (one output: bare)."""
    parts = {k: _json_value(np.asarray(v)) for k, v in outputs.items()}
    if len(parts) == 1:
        return b'{"outputs": ' + next(iter(parts.values())) + b"}"
    return b'{"outputs": {' + b", ".join(json.dumps(k).encode() + b": " + v for k, v in parts.items()) + b"}}"


def _to_array(value, dtype, key):
    try:
        arr = np.asarray(value)
        if arr.dtype == object:
            raise UsageError("ragged or mixed-type list")
        if arr.size and np.issubdtype(dtype, np.integer):
            if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                         or (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)))):
                raise UsageError(f"expected integers, got {arr.dtype.name}")
            info = np.iinfo(dtype)
            # JSON integers beyond int64 arrive as floats (e.g. [2**63, 0]); those above 2**53 are not exact.
            exact = not np.issubdtype(arr.dtype, np.floating) or np.abs(arr).max() <= 2.0 ** 53
            if not exact or arr.min() < info.min or arr.max() > info.max:
                raise UsageError(f"values out of range for {np.dtype(dtype).name}")
        return arr.astype(dtype)
    except (ValueError, TypeError) as exc:
        raise ServingError("INVALID_ARGUMENT", f"input {key!r}: cannot convert to "
                                               f"{np.dtype(dtype).name}: {exc}") from None


def _predict(store, name, version, body):
    if not isinstance(body, dict):
        raise ServingError("INVALID_ARGUMENT", "request body must be a JSON object")
    model = store.get(name, version)
    signature = body.get("signature_name") or DEFAULT_SIGNATURE
    spec = model.input_spec(signature)
    if ("inputs" in body) == ("instances" in body):
        raise ServingError("INVALID_ARGUMENT", "request must have exactly one of 'inputs' or 'instances'")
    if "inputs" in body:
        raw = body["inputs"]
        if not isinstance(raw, dict):
            if len(spec) != 1:
                raise ServingError("INVALID_ARGUMENT", f"'inputs' must name each of {sorted(spec)}")
            raw = {next(iter(spec)): raw}
        inputs = {k: _to_array(v, spec[k][0], k) if k in spec else np.asarray(v) for k, v in raw.items()}
        return outputs_json(model.run(signature, inputs, max_samples=store.max_samples, budget=store.budget))
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise ServingError("INVALID_ARGUMENT", "'instances' must be a non-empty list")
    if any(shape is not None and len(shape) == 0 for _, shape in spec.values()):
        raise ServingError("INVALID_ARGUMENT", f"signature {signature!r} has scalar inputs; use the columnar "
                                               "'inputs' format")
    if all(isinstance(i, dict) for i in instances):
        keys = set(instances[0])
        if any(set(i) != keys for i in instances):
            raise ServingError("INVALID_ARGUMENT", "all instances must have the same keys")
        raw = {k: [i[k] for i in instances] for k in keys}
    elif len(spec) == 1:
        raw = {next(iter(spec)): instances}
    else:
        raise ServingError("INVALID_ARGUMENT", f"instances must be objects naming {sorted(spec)}")
    inputs = {k: _to_array(v, spec[k][0], k) if k in spec else np.asarray(v) for k, v in raw.items()}
    out = model.run(signature, inputs, max_samples=store.max_samples, budget=store.budget)
    rows = len(instances)
    if any(np.ndim(v) == 0 or len(v) != rows for v in out.values()):
        raise ServingError("INVALID_ARGUMENT", "outputs are not batched along the instances")
    if len(out) == 1:
        return {"predictions": next(iter(out.values())).tolist()}
    return {"predictions": [{k: v[r].tolist() for k, v in out.items()} for r in range(rows)]}


def _metadata(store, name, version):
    from google.protobuf import json_format
    from tensorflow_serving.apis import get_model_metadata_pb2

    model = store.get(name, version)
    sig_map = get_model_metadata_pb2.SignatureDefMap()
    for key, sig in model.signatures.items():
        sig_map.signature_def[key].CopyFrom(sig)
    return {"model_spec": {"name": name, "signature_name": "", "version": str(model.version)},
            "metadata": {"signature_def": json_format.MessageToDict(sig_map, preserving_proto_field_name=True)}}


class PooledHTTPServer(HTTPServer):
    """``http.server`` with a listen backlog of 1024 and a fixed pool of worker threads.

    Why not a third-party server: this keeps every answer, including those to malformed
    requests, in TF-Serving's JSON error form, and with the backlog, the pool, socket
    timeouts and the sample budget it met the load targets (benchmarks/README.md).
    Connections wait in the pool's queue (each is a socket, no work); the work itself is
    bounded by the store's sample budget.
    """

    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address, handler, workers: int = 32):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rest")
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        self.pool.submit(self._work, request, client_address)

    def _work(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - a broken connection must not stop the worker
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def handle_error(self, request, client_address):
        pass   # a client that went away; the answer could not be delivered

    def server_close(self):
        super().server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)


def make_rest_server(store, host: str, port: int, log=None, timeout: float = 30.0) -> HTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # A stalled connection (no request line, headers or body for this long) is closed.
        # A class attribute read by StreamRequestHandler.setup.

        def log_message(self, fmt, *args):  # quiet by default
            if log:
                log(fmt % args)

        def _send(self, status: int, payload):
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str):
            m = _ROUTE.match(self.path.split("?")[0])
            if not m:
                raise ServingError("NOT_FOUND", f"Malformed request: {method} {self.path}")
            version = int(m["version"]) if m["version"] else None
            return m["name"], version, m["action"]

        def do_GET(self):  # noqa: N802
            try:
                name, version, action = self._route("GET")
                if action == ":predict":
                    raise ServingError("INVALID_ARGUMENT", "predict requires POST")
                if action == "/metadata":
                    self._send(200, _metadata(self.server.store, name, version))
                else:
                    self._send(200, {"model_version_status": self.server.store.status(name, version)})
            except ServingError as err:
                self._send(_HTTP.get(err.code, 500), {"error": err.message})

        def send_error(self, code, message=None, explain=None):
            """Every error the base class raises by itself (unknown method, bad request line) as JSON."""
            self.close_connection = True
            self._send(code, {"error": message or self.responses.get(code, ("error",))[0]})

        def _unsupported(self):
            self.send_error(405, f"method {self.command} is not supported; use GET or POST")

        do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _unsupported  # noqa: N815

        def do_HEAD(self):  # noqa: N802 - a HEAD answer has no body, so the JSON error goes in a header only
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _body_length(self, limit: int) -> int:
            text = self.headers.get("Content-Length")
            if text is None or not text.strip().isdigit():
                raise ServingError("INVALID_ARGUMENT", f"Content-Length must be a non-negative integer, got {text!r}")
            length = int(text)
            if length > limit:
                raise ServingError("INVALID_ARGUMENT", f"request body of {length} bytes is larger than the "
                                                       f"{limit} bytes this model and --max-samples allow")
            return length

        def do_POST(self):  # noqa: N802
            # Until the body is read, an error answer closes the connection: the unread bytes
            # must not be taken for the next request.
            self.close_connection = True
            try:
                name, version, action = self._route("POST")
                if action != ":predict":
                    raise ServingError("NOT_FOUND", f"Malformed request: POST {self.path}")
                store = self.server.store
                model = store.get(name, version)
                raw = self.rfile.read(self._body_length(min(MAX_BODY, model.max_request_bytes(store.max_samples))))
                self.close_connection = False
                try:
                    body = json.loads(raw or b"null")
                except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                    raise ServingError("INVALID_ARGUMENT", f"JSON Parse error: {str(exc)[:200]}") from None
                self._send(200, _predict(store, name, version, body))
            except ServingError as err:
                self._send(_HTTP.get(err.code, 500), {"error": err.message})
            except Exception as exc:  # noqa: BLE001 - the server keeps serving
                self._send(500, {"error": f"internal error: {exc}"})

    Handler.timeout = timeout
    server = PooledHTTPServer((host, port), Handler)
    server.store = store      # may be set later, once the ports are bound
    return server
