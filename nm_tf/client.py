"""Client for a served sampler (embedded server or real TF-Serving), gRPC or REST.

Example:
    >>> c = SamplerClient(target="127.0.0.1:8500")                   # doctest: +SKIP
    >>> stats = c.hamming_stats("nm", num_samples=1000, seed=1)      # doctest: +SKIP
    >>> stats["ground_state_fraction"], stats["distinct_ground_states"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
import http.client
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
from .errors import UsageError
from .servable import HAMMING_STATS, NUM_SAMPLES, SAMPLE, SEED, SPINS

__all__ = ["SamplerClient", "ServerError", "check_address", "format_stats"]


class ServerError(RuntimeError):
    """The server answered with an error (message as the server gave it)."""


def _valid_url(url: str) -> bool:
    if not re.fullmatch(r"https?://[^\s/]+(:\d{1,5})?/?", url):
        return False
    try:
        parts = urllib.parse.urlsplit(url)
        return bool(parts.hostname) and (parts.port is None or 0 < parts.port < 65536)
    except ValueError:          # "http://[::1": an unclosed IPv6 bracket, a port that is not a number
        return False


def _seed(seed):
    arr = np.array([0, seed], dtype=np.int64) if np.ndim(seed) == 0 else np.asarray(seed, dtype=np.int64)
    if arr.shape != (2,):
        raise UsageError(f"seed must be an integer or two integers, got {seed!r}")
    return arr


def check_address(target: str | None, url: str | None):
    """Exactly one of a gRPC ``host:port`` and a REST ``http://host[:port]`` URL, well formed (no import, no
    connection: ``nm-tf sample`` checks it before TensorFlow loads)."""
    if (target is None) == (url is None):
        raise UsageError("give exactly one of target (gRPC host:port) or url (REST)")
    if target is not None and not re.fullmatch(r"[^\s:]+:\d{1,5}", target):
        raise UsageError(f"--target must be host:port, e.g. 127.0.0.1:8500, got {target!r}")
    if url is not None and not _valid_url(url):
        raise UsageError(f"--url must be http://host[:port], e.g. http://127.0.0.1:8501, got {url!r}")


class SamplerClient:
    """Ask a served model for samples and Hamming statistics.

    Args:
        target: gRPC ``host:port`` (TF-Serving's 8500), or
        url: REST base URL (``http://host:8501``). Exactly one of the two.
        timeout: seconds per request.
    """

    def __init__(self, target: str | None = None, url: str | None = None, timeout: float = 60.0):
        check_address(target, url)
        self.target, self.url, self.timeout = target, url.rstrip("/") if url else None, timeout
        if target:
            import grpc
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            self.channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 256 << 20)])
            self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)

    def predict(self, model: str, signature: str, inputs: dict, version: int | None = None) -> dict:
        """Run one signature; ``inputs`` maps names to NumPy arrays of the signature's dtypes."""
        if self.target:
            import grpc
            import tensorflow as tf
            from tensorflow_serving.apis import predict_pb2

            req = predict_pb2.PredictRequest()
            req.model_spec.name = model
            req.model_spec.signature_name = signature
            if version is not None:
                req.model_spec.version.value = int(version)
            for k, v in inputs.items():
                req.inputs[k].CopyFrom(tf.make_tensor_proto(np.asarray(v)))
            try:
                resp = self.stub.Predict(req, timeout=self.timeout)
            except grpc.RpcError as exc:
                hint = (f" (is nm-tf serve running, with its gRPC port at {self.target}? REST is a separate port)"
                        if exc.code() == grpc.StatusCode.UNAVAILABLE else "")
                raise ServerError(f"{exc.code().name}: {exc.details()}{hint}") from None
            return {k: tf.make_ndarray(v) for k, v in resp.outputs.items()}
        path = f"/v1/models/{model}" + (f"/versions/{int(version)}" if version is not None else "") + ":predict"
        body = {"signature_name": signature, "inputs": {k: np.asarray(v).tolist() for k, v in inputs.items()}}
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                out = json.loads(resp.read())["outputs"]
        except urllib.error.HTTPError as exc:
            try:
                msg = json.loads(exc.read())["error"]
            except Exception:  # noqa: BLE001
                msg = str(exc)
            raise ServerError(f"HTTP {exc.code}: {msg}") from None
        except urllib.error.URLError as exc:
            raise ServerError(f"cannot reach {self.url}: {exc.reason} (is nm-tf serve running, with its REST port "
                              f"there?)") from None
        except (http.client.HTTPException, ConnectionError, ValueError) as exc:
            # e.g. the gRPC port (HTTP/2) answers an HTTP/1.1 request with bytes that are not HTTP/1.1
            raise ServerError(f"{self.url} did not answer as a TF-Serving REST endpoint ({type(exc).__name__}); "
                              f"is that the REST port (nm-tf serve: 8501) rather than gRPC (8500)?") from None
        return {k: np.asarray(v) for k, v in out.items()} if isinstance(out, dict) else {"output": np.asarray(out)}

    def sample(self, model: str, num_samples: int, seed=0, version: int | None = None) -> dict:
        """Configurations and per-sample statistics (the ``sample`` signature)."""
        self._check_n(num_samples)
        out = self.predict(model, SAMPLE, {NUM_SAMPLES: np.int32(num_samples), SEED: _seed(seed)}, version)
        out[SPINS] = out[SPINS].astype(np.int8)
        return out

    def hamming_stats(self, model: str, num_samples: int, seed=0, version: int | None = None) -> dict:
        """Hamming-distance statistics computed on the server (``hamming_stats``)."""
        self._check_n(num_samples)
        out = self.predict(model, HAMMING_STATS, {NUM_SAMPLES: np.int32(num_samples), SEED: _seed(seed)}, version)
        return {
            "n_samples": int(num_samples),
            "ground_state_fraction": float(out["ground_state_fraction"]),
            "distinct_ground_states": int(out["distinct_ground_states"]),
            "mean_hamming": float(out["mean_hamming"]),
            "hamming_histogram": [int(x) for x in out["hamming_histogram"]],
            "pairwise_hamming_histogram": [int(x) for x in out["pairwise_hamming_histogram"]],
        }

    @staticmethod
    def _check_n(n):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise UsageError(f"num_samples must be a positive integer, got {n!r}")

    def close(self):
        if self.target:
            self.channel.close()


def format_stats(stats: dict) -> str:
    hist = stats["hamming_histogram"]
    lines = [f"{stats['n_samples']} samples: ground-state fraction {stats['ground_state_fraction']:.4f}, "
             f"distinct ground states {stats['distinct_ground_states']}, "
             f"mean Hamming distance to the trivial state {stats['mean_hamming']:.3f}",
             "Hamming distance to trivial state: " + ", ".join(f"{d}:{c}" for d, c in enumerate(hist) if c)]
    return "\n".join(lines)
