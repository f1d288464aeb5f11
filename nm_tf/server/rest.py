"""TF-Serving's REST API over a ModelStore.

``GET /v1/models/NAME[/versions/V]``, ``GET .../metadata``,
``POST .../:predict`` with ``{"signature_name", "inputs"}`` (columnar, answered
as ``{"outputs": ...}``) or ``{"instances": [...]}`` (row format, answered as
``{"predictions": [...]}``). Errors: 400 / 404 with ``{"error": "..."}``.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import numpy as np

from .store import DEFAULT_SIGNATURE, ServingError
from ..errors import UsageError
from ..servable import MAX_VERSION

__all__ = ["RestServer", "make_rest_server"]

_ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
                    r"(?P<action>/metadata|:predict)?$")
_HTTP = {"INVALID_ARGUMENT": 400, "NOT_FOUND": 404, "RESOURCE_EXHAUSTED": 503, "UNAVAILABLE": 503,
         "FAILED_PRECONDITION": 400}
MAX_BODY = 64 << 20
MAX_HEAD_LINE = 16 << 10        # one request or header line
MAX_HEADERS = 100


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


def _predict(store, name, version, label, body):
    if not isinstance(body, dict):
        raise ServingError("INVALID_ARGUMENT", "request body must be a JSON object")
    model = store.get(name, version, label)
    signature = body.get("signature_name") or DEFAULT_SIGNATURE
    if not isinstance(signature, str):
        raise ServingError("INVALID_ARGUMENT", f"signature_name must be a string, got {type(signature).__name__}")
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
        return outputs_json(store.run(name, version, label, signature, inputs)[1])
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
    out = store.run(name, version, label, signature, inputs)[1]
    rows = len(instances)
    if any(np.ndim(v) == 0 or len(v) != rows for v in out.values()):
        raise ServingError("INVALID_ARGUMENT", "outputs are not batched along the instances")
    if len(out) == 1:
        return {"predictions": next(iter(out.values())).tolist()}
    return {"predictions": [{k: v[r].tolist() for k, v in out.items()} for r in range(rows)]}


def _metadata(store, name, version, label=None):
    from google.protobuf import json_format
    from tensorflow_serving.apis import get_model_metadata_pb2

    model = store.get(name, version, label)
    sig_map = get_model_metadata_pb2.SignatureDefMap()
    for key, sig in model.signatures.items():
        sig_map.signature_def[key].CopyFrom(sig)
    return {"model_spec": {"name": name, "signature_name": "", "version": str(model.version)},
            "metadata": {"signature_def": json_format.MessageToDict(sig_map, preserving_proto_field_name=True)}}


def parse_version(text):
    """A REST path's version: digits naming an int64 (TF-Serving's type), else INVALID_ARGUMENT."""
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_VERSION:
        raise ServingError("INVALID_ARGUMENT", f"version must be an integer in 0..{MAX_VERSION}, "
                                               f"got {text[:40]!r}{'...' if len(text) > 40 else ''}")
    return int(text)


def check_json_size(raw: bytes, max_rows: int, max_values: int):
    """Refuse, before parsing, a body whose JSON would build more containers or values than any request the
    model accepts: ``json.loads`` of 14 MB of ``[],[],...`` builds 4.6 million lists (~0.5 GB). A request
    has at most ``max_rows`` rows (one ``[`` or ``{`` each) and ``max_values`` numbers; the counts are
    one C pass over the bytes."""
    containers = raw.count(b"[") + raw.count(b"{")
    if containers > max_rows + 64:
        raise ServingError("INVALID_ARGUMENT", f"request body has {containers} JSON arrays/objects; this model "
                                               f"and --max-samples accept at most {max_rows} rows")
    if raw.count(b",") > max_values + 64:
        raise ServingError("INVALID_ARGUMENT", f"request body has more than {max_values} values; this model and "
                                               f"--max-samples accept at most that many")


class _Reply(Exception):
    """An answer decided while reading a request (always followed by closing the connection)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class RestServer:
    """TF-Serving's REST API: connections are read on one asyncio event loop, requests run on a thread pool.

    Why an event loop: with one blocking thread per connection (``http.server``), 32 idle or trickling
    sockets took every worker and a normal request waited tens of seconds. Here a connection costs no
    thread until its request (line, headers and body) has fully arrived; a request that is not complete
    within ``timeout`` seconds is answered 408 and closed, and an idle keep-alive connection is closed
    after ``timeout``. The work of a request (routing, parsing, running the signature) is done in the
    pool, so a slow signature never stalls the loop. Every answer, errors included, is TF-Serving's JSON.
    """

    def __init__(self, store, host: str, port: int, timeout: float = 30.0, workers: int = 32, log=None):
        self.store = store      # may be set later, once the ports are bound
        self.timeout = float(timeout)
        self.log = log
        # Bound at once (a taken port fails here, before any model is loaded).
        self.socket = socket.create_server((host, port), backlog=1024)
        self.server_address = self.socket.getsockname()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rest")
        self._loop = None
        self._stopping = None
        self._done = threading.Event()
        self._connections = set()

    # ------------------------------------------------------------------ lifecycle
    def serve_forever(self):
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()
            self._done.set()

    async def _serve(self):
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._connection, sock=self.socket, limit=MAX_HEAD_LINE)
        async with server:
            await self._stopping.wait()
            server.close()
            for writer in list(self._connections):
                writer.close()

    def shutdown(self):
        """Stop serving (from another thread) and wait for the loop to end."""
        if self._loop is not None and not self._done.is_set():
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._done.wait(10)

    def server_close(self):
        self.socket.close()
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ one connection
    async def _connection(self, reader, writer):
        self._connections.add(writer)
        try:
            while True:
                try:
                    request = await asyncio.wait_for(self._read_head(reader), self.timeout)
                except asyncio.TimeoutError:
                    break                       # idle or stalled before a complete head: close
                if request is None:
                    break                       # the client closed the connection
                method, path, headers, keep_alive = request
                status, payload, keep_alive = await self._answer(reader, method, path, headers, keep_alive)
                await self._write(writer, status, payload, keep_alive, head_only=method == "HEAD")
                if not keep_alive:
                    break
        except _Reply as reply:
            await self._write(writer, reply.status, {"error": reply.message}, False)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._connections.discard(writer)
            writer.close()

    async def _read_head(self, reader):
        """``(method, path, {lower-case name: [values]}, keep_alive)`` or None at a clean end of stream."""
        try:
            line = await reader.readline()
        except (asyncio.LimitOverrunError, ValueError):
            raise _Reply(414, "request line too long") from None
        if not line:
            return None
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _Reply(400, f"Bad request line {line[:100].decode('latin-1').strip()!r}")
        method, path, version = parts
        headers = {}
        for _ in range(MAX_HEADERS + 1):
            try:
                line = await reader.readline()
            except (asyncio.LimitOverrunError, ValueError):
                raise _Reply(431, "header line too long") from None
            if not line:
                raise asyncio.IncompleteReadError(b"", None)
            if line in (b"\r\n", b"\n"):
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or not name.strip():
                raise _Reply(400, f"malformed header line {line[:100].decode('latin-1').strip()!r}")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        else:
            raise _Reply(431, f"more than {MAX_HEADERS} header lines")
        connection = ",".join(headers.get("connection", [])).lower()
        keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
        return method, path, headers, keep_alive

    async def _answer(self, reader, method, path, headers, keep_alive):
        """``(status, payload, keep_alive)`` for one request whose head has been read."""
        loop = asyncio.get_running_loop()
        if method in ("GET", "HEAD"):
            if headers.get("content-length", ["0"]) != ["0"] or "transfer-encoding" in headers:
                return 400, {"error": f"{method} requests have no body"}, False
            if method == "HEAD":     # no body in the answer: the status says it
                return 405, b"", keep_alive
            status, payload = await loop.run_in_executor(self.pool, self._get, path)
            return status, payload, keep_alive
        if method != "POST":
            return 405, {"error": f"method {method} is not supported; use GET or POST"}, False
        # Until the body is read, an error answer closes the connection: unread bytes must not be taken
        # for the next request.
        try:
            name, version, label, action = _route("POST", path)
            if action != ":predict":
                raise ServingError("NOT_FOUND", f"Malformed request: POST {path}")
            if "transfer-encoding" in headers:
                raise ServingError("INVALID_ARGUMENT", "Transfer-Encoding is not supported; send Content-Length")
            limits = await loop.run_in_executor(self.pool, self._limits, name, version, label)
            length = _body_length(headers.get("content-length", []), limits[0])
        except ServingError as err:
            return _HTTP.get(err.code, 500), {"error": err.message}, False
        try:
            raw = await asyncio.wait_for(reader.readexactly(length), self.timeout)
        except asyncio.TimeoutError:
            return 408, {"error": f"the request body did not arrive within {self.timeout:g} s "
                                  f"(Content-Length {length})"}, False
        status, payload = await loop.run_in_executor(self.pool, self._predict, name, version, label, raw, limits)
        return status, payload, keep_alive

    async def _write(self, writer, status: int, payload, keep_alive: bool, head_only: bool = False):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {0 if head_only else len(data)}\r\n"
                + ("" if keep_alive else "Connection: close\r\n") + "\r\n").encode("latin-1")
        writer.write(head if head_only else head + data)
        await writer.drain()

    # ------------------------------------------------------------------ the work (thread pool)
    def _get(self, path):
        try:
            name, version, label, action = _route("GET", path)
            if action == ":predict":
                raise ServingError("INVALID_ARGUMENT", "predict requires POST")
            if action == "/metadata":
                return 200, _metadata(self.store, name, version, label)
            return 200, {"model_version_status": self.store.status(name, version, label)}
        except ServingError as err:
            return _HTTP.get(err.code, 500), {"error": err.message}
        except Exception as exc:  # noqa: BLE001 - the server keeps serving
            return 500, {"error": f"internal error: {type(exc).__name__}"}

    def _limits(self, name, version, label):
        """``(body bytes, rows, values)`` a predict request to this model may hold."""
        store = self.store
        model = store.get(name, version, label)
        rows = store.max_samples
        return min(MAX_BODY, model.max_request_bytes(rows)), rows, model.max_request_values(rows)

    def _predict(self, name, version, label, raw, limits):
        try:
            check_json_size(raw, limits[1], limits[2])
            try:
                body = json.loads(raw or b"null")
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                raise ServingError("INVALID_ARGUMENT", f"JSON Parse error: {str(exc)[:200]}") from None
            return 200, _predict(self.store, name, version, label, body)
        except ServingError as err:
            return _HTTP.get(err.code, 500), {"error": err.message}
        except Exception as exc:  # noqa: BLE001 - the server keeps serving
            return 500, {"error": f"internal error: {type(exc).__name__}"}


def _route(method: str, path: str):
    m = _ROUTE.match(path.split("?")[0])
    if not m:
        raise ServingError("NOT_FOUND", f"Malformed request: {method} {path[:200]}")
    return m["name"], parse_version(m["version"]), m["label"], m["action"]


def _body_length(values: list, limit: int) -> int:
    if not values:
        raise ServingError("INVALID_ARGUMENT", "Content-Length must be a non-negative integer, got None")
    if len(set(values)) > 1:
        raise ServingError("INVALID_ARGUMENT", f"conflicting Content-Length headers: {values[:4]}")
    text = values[0]
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise ServingError("INVALID_ARGUMENT", f"Content-Length must be a non-negative integer, got {text[:40]!r}")
    length = int(text)
    if length > limit:
        raise ServingError("INVALID_ARGUMENT", f"request body of {length} bytes is larger than the "
                                               f"{limit} bytes this model and --max-samples allow")
    return length


def make_rest_server(store, host: str, port: int, log=None, timeout: float = 30.0) -> RestServer:
    return RestServer(store, host, port, timeout=timeout, log=log)
