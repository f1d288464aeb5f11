"""The embedded TF-Serving-compatible server: gRPC + REST over one model directory."""

from __future__ import annotations

import logging
import threading
from concurrent import futures

__all__ = ["SamplerServer"]


class SamplerServer:
    """Serve every model under ``model_dir`` (latest version each), or the models of a TF-Serving model
    config file (``model_config``: version policies and labels; relative base paths from its folder).

    Example:
        >>> with SamplerServer("models", grpc_port=0, rest_port=0) as srv:   # doctest: +SKIP
        ...     print(srv.grpc_target, srv.rest_url)
    """

    def __init__(self, model_dir, host: str = "127.0.0.1", grpc_port: int = 8500, rest_port: int = 8501,
                 max_samples: int = 100_000, poll_seconds: float = 1.0, workers: int = 8, quiet: bool = False,
                 max_inflight_samples: int | None = None, rest_timeout: float = 30.0, model_config=None):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        from tensorflow_serving.apis import model_service_pb2_grpc

        from .grpc_service import ModelService, PredictionService
        from .rest import make_rest_server
        from .store import ModelStore

        # Through logging (logger nm_tf.serve), like every message of the package; quiet: the server's own
        # log off (tests, embedded use).
        self.log = (lambda *_: None) if quiet else logging.getLogger("nm_tf.serve").info
        self.host = host
        # The ports are bound first: a taken port fails at once, before any model is loaded.
        # gRPC's default SO_REUSEPORT would let a second server share a taken port and receive
        # part of the first one's connections; a taken port must be an error instead.
        # Beyond 1024 concurrent calls gRPC answers RESOURCE_EXHAUSTED at once; the work of the
        # admitted ones is bounded by the store's sample budget.
        self.grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=[("grpc.so_reuseport", 0)],
                                maximum_concurrent_rpcs=1024)
        try:
            self.grpc_port = self.grpc.add_insecure_port(f"{host}:{grpc_port}")
        except RuntimeError:
            self.grpc_port = 0
        if self.grpc_port == 0:
            raise OSError(f"cannot bind the gRPC port {host}:{grpc_port} (in use, or not an address of this machine)")
        try:
            self.rest = make_rest_server(None, host, rest_port, timeout=rest_timeout)
        except OSError as exc:
            self.grpc.stop(None)
            raise OSError(f"cannot bind the REST port {host}:{rest_port}: {exc.strerror or exc}") from None
        try:
            config = None
            if model_config is not None:
                from .model_config import load_model_config

                config = load_model_config(model_config)
            self.store = ModelStore(model_dir, max_samples=max_samples, log=self.log,
                                    max_inflight_samples=max_inflight_samples, config=config)
        except BaseException:
            self.grpc.stop(None)
            self.rest.server_close()
            raise
        self.rest.store = self.store
        if not self.store.model_names():
            self.log(f"no models under {model_dir} yet; polling for new ones")
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(self.store), self.grpc)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(self.store), self.grpc)
        self.rest_port = self.rest.server_address[1]
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._threads = []

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}"

    def _poll(self):
        while not self._stop.wait(self.poll_seconds):
            try:
                self.store.refresh()
            except Exception as exc:  # noqa: BLE001 - a half-written export must not stop serving
                self.log(f"refresh failed: {exc}")

    def start(self):
        self.grpc.start()
        for target in (self.rest.serve_forever, self._poll):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        self.log(f"gRPC on {self.grpc_target}, REST on {self.rest_url}, models: {self.store.model_names()}")
        return self

    def stop(self):
        self._stop.set()
        self.rest.shutdown()
        self.rest.server_close()
        self.grpc.stop(grace=1).wait()
        self.store.close()

    def wait(self):
        self._stop.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
