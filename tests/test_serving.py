import concurrent.futures as cf
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("tensorflow_serving")
import grpc  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc  # noqa: E402

from nm_tf.annealing.config import AnnealConfig  # noqa: E402
from nm_tf.annealing.driver import anneal  # noqa: E402
from nm_tf.client import SamplerClient, ServerError  # noqa: E402
from nm_tf.export import export_run, load_run_model  # noqa: E402
from nm_tf.hamiltonian import energy  # noqa: E402
from nm_tf.server.server import SamplerServer  # noqa: E402

from conftest import run_cli  # noqa: E402

L = 3


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    wd = tmp_path_factory.mktemp("run") / "r"
    anneal(AnnealConfig(L=L, T0=2.0, warmup=50, annealing_steps=50, train_steps=2, hidden=8, lr=0.01,
                        final_samples=500), wd)
    return wd


@pytest.fixture(scope="module")
def models(run_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    export_run(run_dir, base, "nm")
    return base


@pytest.fixture(scope="module")
def server(models):
    with SamplerServer(models, grpc_port=0, rest_port=0, max_samples=5000, poll_seconds=0.2, quiet=True) as s:
        yield s


def _stub(server):
    return prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(server.grpc_target))


def _request(signature="sample", n=20, seed=(0, 4), name="nm", n_dtype=np.int32):
    req = predict_pb2.PredictRequest()
    req.model_spec.name = name
    req.model_spec.signature_name = signature
    req.inputs["num_samples"].CopyFrom(tf.make_tensor_proto(n_dtype(n)))
    req.inputs["seed"].CopyFrom(tf.make_tensor_proto(np.array(seed, np.int64)))
    return req


def _rest(server, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(server.rest_url + path, data=data)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


# ------------------------------------------------------------------ export
def test_session_loader_runs_every_signature(models, run_dir):
    path = models / "nm" / "1"
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(path))
        assert {"sample", "serving_default", "log_prob", "hamming_stats"} <= set(meta.signature_def)
        feeds_for = {"num_samples": np.int32(300), "seed": np.array([0, 9], np.int64),
                     "spins": np.ones((2, L * L), np.int8)}
        out = {}
        for name in ("sample", "serving_default", "log_prob", "hamming_stats"):
            sig = meta.signature_def[name]
            assert sig.method_name == "tensorflow/serving/predict"
            out[name] = sess.run({k: v.name for k, v in sig.outputs.items()},
                                 {ti.name: feeds_for[k] for k, ti in sig.inputs.items()})
    s = out["sample"]
    assert s["spins"].dtype == np.int8 and s["spins"].shape == (300, L * L)
    np.testing.assert_array_equal(s["energy"], energy(s["spins"], L))
    np.testing.assert_array_equal(s["hamming_to_trivial"], L * L - s["spins"].sum(1))
    np.testing.assert_array_equal(s["is_ground_state"], s["energy"] == -L * L / 2)
    np.testing.assert_array_equal(out["serving_default"]["spins"], s["spins"])
    # same seed -> the in-process sampler's samples
    model, _ = load_run_model(run_dir)
    bits, lp = model.sample(300, [0, 9])
    np.testing.assert_array_equal(bits.numpy(), s["spins"])
    np.testing.assert_allclose(lp.numpy(), s["log_prob"], atol=1e-5)
    h = out["hamming_stats"]
    np.testing.assert_array_equal(h["hamming_histogram"], np.bincount(s["hamming_to_trivial"], minlength=10))
    assert h["ground_state_fraction"] == pytest.approx(s["is_ground_state"].mean())
    assert h["distinct_ground_states"] == len(np.unique(s["spins"][s["is_ground_state"]], axis=0))
    d = (s["spins"][:, None, :] != s["spins"][None, :, :]).sum(-1)
    iu = np.triu_indices(300, 1)
    np.testing.assert_array_equal(h["pairwise_hamming_histogram"], np.bincount(d[iu], minlength=10))
    assert (path / "assets.extra" / "tf_serving_warmup_requests").exists()


def test_export_refuses_to_overwrite_and_numbers_versions(run_dir, tmp_path):
    # graph exports: numbering does not depend on the sampler (the XLA export is the `models` fixture's)
    assert export_run(run_dir, tmp_path, "m", xla=False).name == "1"
    assert export_run(run_dir, tmp_path, "m", xla=False).name == "2"
    with pytest.raises(FileExistsError):
        export_run(run_dir, tmp_path, "m", version=1)
    with pytest.raises(FileNotFoundError):
        export_run(tmp_path / "missing", tmp_path, "m")


# ------------------------------------------------------------------ gRPC
def test_grpc_predict_and_metadata(server, run_dir):
    stub = _stub(server)
    resp = stub.Predict(_request(n=50, seed=(0, 4)))
    spins = tf.make_ndarray(resp.outputs["spins"])
    assert spins.shape == (50, L * L) and resp.model_spec.version.value == 1
    model, _ = load_run_model(run_dir)
    np.testing.assert_array_equal(model.sample(50, [0, 4])[0].numpy(), spins)
    req = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    req.model_spec.name = "nm"
    meta = stub.GetModelMetadata(req)
    sig_map = get_model_metadata_pb2.SignatureDefMap()
    meta.metadata["signature_def"].Unpack(sig_map)
    assert "hamming_stats" in sig_map.signature_def


@pytest.mark.parametrize("req, code, message", [
    (lambda: _request(n_dtype=np.int64), grpc.StatusCode.INVALID_ARGUMENT, "int32"),
    (lambda: _request(n=0), grpc.StatusCode.INVALID_ARGUMENT, "> 0"),
    (lambda: _request(n=10_000), grpc.StatusCode.INVALID_ARGUMENT, "<= 5000"),
    (lambda: _request(name="nope"), grpc.StatusCode.NOT_FOUND, "nope"),
    (lambda: _request(signature="nope"), grpc.StatusCode.INVALID_ARGUMENT, "nope"),
    (lambda: _request(seed=(1, 2, 3)), grpc.StatusCode.INVALID_ARGUMENT, "shape"),
])
def test_grpc_errors(server, req, code, message):
    with pytest.raises(grpc.RpcError) as info:
        _stub(server).Predict(req())
    assert info.value.code() == code and message in info.value.details()
    assert _stub(server).Predict(_request(n=3)).outputs["spins"]  # still serving


def test_grpc_unknown_version_and_bad_spins(server):
    req = _request()
    req.model_spec.version.value = 99
    with pytest.raises(grpc.RpcError) as info:
        _stub(server).Predict(req)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    req = predict_pb2.PredictRequest()
    req.model_spec.name, req.model_spec.signature_name = "nm", "log_prob"
    req.inputs["spins"].CopyFrom(tf.make_tensor_proto(np.full((1, L * L), 3, np.int8)))
    with pytest.raises(grpc.RpcError) as info:
        _stub(server).Predict(req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "bits" in info.value.details()


# ------------------------------------------------------------------ REST
def test_rest_status_metadata_and_predict(server):
    code, body = _rest(server, "/v1/models/nm")
    assert code == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"
    code, body = _rest(server, "/v1/models/nm/versions/1/metadata")
    sigs = body["metadata"]["signature_def"]["signature_def"]             # proto field names, as TF-Serving
    assert code == 200 and "sample" in sigs and sigs["sample"]["method_name"] == "tensorflow/serving/predict"
    assert "tensor_shape" in sigs["sample"]["outputs"]["spins"]
    code, body = _rest(server, "/v1/models/nm:predict",
                       {"signature_name": "sample", "inputs": {"num_samples": 7, "seed": [0, 4]}})
    assert code == 200 and np.asarray(body["outputs"]["spins"]).shape == (7, L * L)
    grpc_spins = tf.make_ndarray(_stub(server).Predict(_request(n=7)).outputs["spins"])
    np.testing.assert_array_equal(np.asarray(body["outputs"]["spins"]), grpc_spins)
    ones = [[1] * (L * L)] * 2
    code, row = _rest(server, "/v1/models/nm:predict", {"signature_name": "log_prob", "instances": ones})
    code2, col = _rest(server, "/v1/models/nm/versions/1:predict",
                       {"signature_name": "log_prob", "inputs": {"spins": ones}})
    assert code == code2 == 200 and len(row["predictions"]) == 2
    np.testing.assert_allclose(row["predictions"], col["outputs"])


@pytest.mark.parametrize("path, body, raw, status, message", [
    ("/v1/models/nm:predict", None, b"{bad json", 400, "JSON"),
    ("/v1/models/nm:predict", {"inputs": {"num_samples": -1, "seed": [0, 1]}}, None, 400, "> 0"),
    ("/v1/models/nm:predict", {"inputs": {"num_samples": 2.5, "seed": [0, 1]}}, None, 400, "int32"),
    ("/v1/models/nm:predict", {"instances": [{"num_samples": 3, "seed": [0, 1]}]}, None, 400, "columnar"),
    ("/v1/models/nm:predict", {"inputs": {"seed": [0, 1]}}, None, 400, "missing"),
    ("/v1/models/nm:predict", {"signature_name": "log_prob", "instances": [[1, 0]]}, None, 400, "shape"),
    ("/v1/models/zzz:predict", {"inputs": {}}, None, 404, "zzz"),
    ("/v1/models/nm/versions/7:predict", {"inputs": {}}, None, 404, "7"),
    ("/v2/whatever", {}, None, 404, "Malformed"),
])
def test_rest_errors(server, path, body, raw, status, message):
    code, resp = _rest(server, path, body, raw)
    assert code == status and message in resp["error"]
    assert _rest(server, "/v1/models/nm")[0] == 200


# ------------------------------------------------------------------ models and versions
# Default-suite budget (session 26's slower machine): `slow`; the version swap test stays in the default run.
@pytest.mark.slow
def test_new_version_and_second_model_are_picked_up(run_dir, tmp_path):
    base = tmp_path / "models"
    export_run(run_dir, base, "a", xla=False)
    with SamplerServer(base, grpc_port=0, rest_port=0, poll_seconds=0.1, quiet=True) as srv:
        export_run(run_dir, base, "a", xla=False)          # version 2
        export_run(run_dir, base, "b", xla=False)          # second model
        deadline = time.time() + 60
        while time.time() < deadline and not {("a", 2), ("b", 1)} <= set(srv.store.loaded):
            time.sleep(0.1)
        c = SamplerClient(url=srv.rest_url)
        assert c.hamming_stats("b", 10, 1)["n_samples"] == 10
        resp = _stub(srv).Predict(_request(name="a"))
        assert resp.model_spec.version.value == 2
        assert _wait(lambda: ("a", 1) not in srv.store.loaded)      # TF-Serving's default: the latest only
        req = _request(name="a")
        req.model_spec.version.value = 1                            # on disk, not served: not loaded for it
        with pytest.raises(grpc.RpcError) as info:
            _stub(srv).Predict(req)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND and ("a", 1) not in srv.store.loaded


def test_load_concurrent_clients(server):
    grpc_client = SamplerClient(target=server.grpc_target)
    rest_client = SamplerClient(url=server.rest_url)
    reference = grpc_client.hamming_stats("nm", 200, 5)
    stop = time.time() + 3.0

    def worker(i):
        c = grpc_client if i % 2 else rest_client
        answers = 0
        while time.time() < stop:
            assert c.hamming_stats("nm", 200, 5) == reference
            answers += 1
        return answers

    with cf.ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(worker, range(8)))
    assert all(c > 0 for c in counts), counts


def test_client_errors(server):
    c = SamplerClient(target=server.grpc_target)
    with pytest.raises(ServerError, match="NOT_FOUND"):
        c.hamming_stats("nope", 10, 1)
    with pytest.raises(ValueError, match="num_samples"):
        c.hamming_stats("nm", 0, 1)
    with pytest.raises(ValueError, match="exactly one"):
        SamplerClient()


def test_sample_cli_json(server):
    r = run_cli("sample", "--target", server.grpc_target, "--model", "nm", "--num-samples", "100", "--seed", "1",
                "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"n_samples", "ground_state_fraction", "distinct_ground_states", "mean_hamming",
                        "hamming_histogram"}
    assert sum(out["hamming_histogram"]) == 100
    bad = run_cli("sample", "--url", server.rest_url, "--model", "zz")
    assert bad.returncode == 2 and "zz" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.skipif(shutil.which("tensorflow_model_server") is None, reason="tensorflow_model_server not on PATH")
def test_real_tensorflow_model_server(models, run_dir):
    proc = subprocess.Popen(["tensorflow_model_server", "--port=18600", "--rest_api_port=18601",
                             "--model_name=nm", f"--model_base_path={models / 'nm'}",
                             "--xla_cpu_compilation_enabled=true", "--enable_model_warmup=true"])
    try:
        time.sleep(5)
        c = SamplerClient(target="127.0.0.1:18600")
        spins = c.sample("nm", 30, 4)["spins"]
        model, _ = load_run_model(run_dir)
        np.testing.assert_array_equal(model.sample(30, [0, 4])[0].numpy(), spins)
        assert SamplerClient(url="http://127.0.0.1:18601").hamming_stats("nm", 30, 4)["n_samples"] == 30
    finally:
        proc.terminate()


# Default-suite budget (session 27): `slow`; every stop runs the README's quick start by hand
# from the clean clone; its parts (anneal, export, serve, sample) have default checks.
@pytest.mark.slow
def test_quickstart_end_to_end(tmp_path):
    r = subprocess.run([sys.executable, "-m", "nm_tf", "quickstart", "--workdir", str(tmp_path / "q"), "--quiet"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ground states found:" in r.stdout and "[4/4]" in r.stdout
    assert (tmp_path / "q" / "models" / "newman_moore" / "1" / "saved_model.pb").exists()


def test_rest_json_encoding_matches_json_dumps():
    from nm_tf.server.rest import outputs_json

    rng = np.random.default_rng(0)
    cases = [rng.integers(0, 2, (5, 4)).astype(np.int8), np.array([[7]], np.int32), rng.integers(0, 10, (3, 9)),
             np.array([[12, 0]]), np.array([[-1, 0]]), rng.normal(size=(2, 3)).astype(np.float32),
             np.arange(4), np.zeros((0, 9), np.int8), np.array(3.5)]
    decoded = json.loads(outputs_json({f"k{i}": np.asarray(a) for i, a in enumerate(cases)}))["outputs"]
    for i, a in enumerate(cases):
        assert decoded[f"k{i}"] == np.asarray(a).tolist()


def test_modes_from_savedmodel_server_and_run_agree(models, server, run_dir, tmp_path, capsys):
    from nm_tf.cli import main
    from nm_tf.modes import analyse

    common = ["--samples", "1500", "--seed", "3", "--json"]
    outs = []
    for i, source in enumerate([["--savedmodel", str(models / "nm" / "1")],
                                ["--target", server.grpc_target, "--model", "nm"],
                                ["--url", server.rest_url, "--model", "nm"],
                                ["--workdir", str(run_dir)]]):
        assert main(["modes", *source, *common, "--out", str(tmp_path / str(i))]) == 0
        outs.append(json.loads(capsys.readouterr().out))
        assert (tmp_path / str(i) / "modes_pca.png").exists()
    # Every source scores the enumerated ground states with the model's log p (the export's and the
    # server's log_prob signature, or the run's model): the same smallest probability.
    smallest = [o.pop("min_ground_state_probability") for o in outs]
    assert smallest[0] is not None and np.allclose(smallest, smallest[0], rtol=1e-4)
    # Only a client of a server cannot know whether the export is symmetrised.
    assert [o.pop("symmetry") for o in outs] == ["none", None, None, "none"]
    assert all(o == outs[0] for o in outs)       # one seed, one sample, wherever it is drawn
    model, _ = load_run_model(run_dir)
    bits = model.sample(1500, [3, 0])[0].numpy()
    assert outs[0]["ground_state_fraction"] == analyse(bits, L)["ground_state_fraction"]
    assert main(["modes", "--target", server.grpc_target, "--model", "nope", "--samples", "10"]) == 2
    assert "NOT_FOUND" in capsys.readouterr().err


# ------------------------------------------------------------------ security: only the served models, bounded requests
@pytest.fixture(scope="module")
def planted(models, tmp_path_factory):
    """A SavedModel outside the model directory, reachable only if a model name were used as a path."""
    outside = tmp_path_factory.mktemp("outside")
    shutil.copytree(models / "nm", outside / "evil")
    return outside / "evil"


def test_model_names_are_never_paths(server, planted, models):
    loaded = len(server.store.loaded)
    rel = f"../{planted.parent.name}/evil"
    for name in (str(planted), rel, "..", ".", "nm/../nm", "nm/", ".nm", "n\x00m", "a" * 200):
        with pytest.raises(grpc.RpcError) as info:
            _stub(server).Predict(_request(name=name, n=3))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND, name
    for path in ("/v1/models/..:predict", "/v1/models/.:predict", "/v1/models/%2E%2E:predict"):
        code, _ = _rest(server, path, {"inputs": {"num_samples": 3, "seed": [0, 1]}})
        assert code == 404, path
    assert _rest(server, "/v1/models/..")[0] == 404
    assert len(server.store.loaded) == loaded            # nothing was loaded for any of them
    assert server.store.model_names() == ["nm"]


def _declared(key, dtype, dims, value):
    """A TensorProto that declares ``dims`` but carries a single value (a tiny request)."""
    proto = tf.make_tensor_proto(np.asarray(value, dtype))
    proto.tensor_shape.Clear()
    for d in dims:
        proto.tensor_shape.dim.add().size = d
    return proto


def test_declared_shapes_are_checked_before_decoding(server):
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    req = _request()
    req.inputs["num_samples"].CopyFrom(_declared("num_samples", np.int32, [2 ** 29], [1]))
    with pytest.raises(grpc.RpcError) as info:
        _stub(server).Predict(req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "shape" in info.value.details()
    req = predict_pb2.PredictRequest()
    req.model_spec.name, req.model_spec.signature_name = "nm", "log_prob"
    req.inputs["spins"].CopyFrom(_declared("spins", np.int8, [2 ** 26, L * L], [0]))
    with pytest.raises(grpc.RpcError) as info:
        _stub(server).Predict(req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "at most 5000" in info.value.details()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 200_000   # KiB: nothing was expanded


def test_grpc_inputs_are_checked_once_per_request(server, monkeypatch):
    from nm_tf.server.store import LoadedModel

    calls = []
    original = LoadedModel.check_input
    monkeypatch.setattr(LoadedModel, "check_input", lambda self, *a, **k: calls.append(a[1]) or original(self, *a, **k))
    _stub(server).Predict(_request(n=3))
    assert sorted(calls) == ["num_samples", "seed"]


def test_rest_batch_inputs_are_capped(server):
    rows = [[0] * (L * L)] * 5001
    code, resp = _rest(server, "/v1/models/nm:predict", {"signature_name": "log_prob", "instances": rows})
    assert code == 400 and "at most 5000" in resp["error"]


def _raw_http(server, request: bytes) -> tuple:
    from conftest import raw_http

    return raw_http(server.rest_url.rsplit(":", 1)[1], request, timeout=10)


@pytest.mark.parametrize("request_bytes, status, message", [
    (b"POST /v1/models/nm:predict HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, b"Content-Length"),
    (b"POST /v1/models/nm:predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, b"Content-Length"),
    (b"POST /v1/models/nm:predict HTTP/1.1\r\nHost: x\r\n\r\n", 400, b"Content-Length"),
    (b"POST /v1/models/nm:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 400, b"larger"),
    (b"PUT /v1/models/nm HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405, b"not supported"),
    (b"DELETE /v1/models/nm HTTP/1.1\r\nHost: x\r\n\r\n", 405, b"not supported"),
])
def test_rest_malformed_requests_get_json_errors(server, request_bytes, status, message):
    code, body = _raw_http(server, request_bytes)
    assert code == status and message in json.loads(body)["error"].encode()


@pytest.mark.parametrize("body, message", [
    (b"[" * 100_000 + b"]" * 100_000, "JSON"),
    (json.dumps({"signature_name": "sample", "inputs": {"num_samples": 3, "seed": [2 ** 63, 0]}}).encode(), "range"),
])
def test_rest_hostile_json_is_a_400(server, body, message):
    code, resp = _rest(server, "/v1/models/nm:predict", raw=body)
    assert code == 400 and message in resp["error"]


def test_a_taken_port_is_refused(models, server):
    grpc_port = int(server.grpc_target.rsplit(":", 1)[1])
    with pytest.raises(OSError, match="gRPC port"):
        SamplerServer(models, grpc_port=grpc_port, rest_port=0, quiet=True)
    rest_port = int(server.rest_url.rsplit(":", 1)[1])
    with pytest.raises(OSError, match="REST port"):
        SamplerServer(models, grpc_port=0, rest_port=rest_port, quiet=True)


@pytest.mark.parametrize("flags, message", [
    (["--grpc-port", "70000"], "0..65535"), (["--rest-port", "-1"], "0..65535"),
    (["--poll-seconds", "0"], ">= 0.05"), (["--poll-seconds", "nan"], ">= 0.05"),
    (["--max-samples", "0"], ">= 1"), (["--host", "no-such-host.invalid"], "does not resolve"),
])
def test_serve_cli_bad_input(models, flags, message):
    r = subprocess.run([sys.executable, "-m", "nm_tf", "serve", "--model-dir", str(models), *flags],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ XLA bucket signatures
def test_xla_buckets_are_compiled_at_warmup_and_give_the_in_process_samples(server, run_dir):
    """The default export samples in XLA-compiled buckets: after the warm-up no request size compiles
    (first requests are fast), and every size, padded or chunked, returns model.sample's samples."""
    from nm_tf.export.signatures import XLA_BUCKETS

    model, _ = load_run_model(run_dir)
    meta = json.loads((server.store.base / "nm" / "1" / "assets.extra" / "nm_tf.json").read_text())
    assert meta["xla_buckets"] == list(XLA_BUCKETS)
    for n in (1, 7, 100, 101, 250, 999, 2500, 4999):        # 4999 > max_samples is refused below
        if n > server.store.max_samples:
            continue
        t = time.perf_counter()
        out = tf.make_ndarray(_stub(server).Predict(_request(n=n, seed=(1, n))).outputs["spins"])
        assert time.perf_counter() - t < 1.5, f"request of {n} took a compile"
        np.testing.assert_array_equal(out, model.sample(n, [1, n])[0].numpy())


# Default-suite budget (session 27): `slow`; the warm-up buckets' test stays in the default run.
@pytest.mark.slow
def test_xla_chunks_beyond_the_largest_bucket(run_dir, tmp_path):
    from nm_tf.export import export_model
    from nm_tf.export.signatures import XLA_BUCKETS
    from nm_tf.server.store import LoadedModel

    model, _ = load_run_model(run_dir)
    export_model(model, tmp_path / "1", warmup=False)
    served = LoadedModel("nm", 1, tmp_path / "1")
    n = XLA_BUCKETS[-1] + 37
    out = served.run("sample", {"num_samples": np.int32(n), "seed": np.array([2, 3], np.int64)})
    bits, log_p = model.sample(n, [2, 3])
    np.testing.assert_array_equal(out["spins"], bits.numpy())
    np.testing.assert_allclose(out["log_prob"], log_p.numpy(), atol=1e-5)


def test_graph_export_option(run_dir, tmp_path):
    r = run_cli("export", "--workdir", run_dir, "--model-dir", tmp_path, "--name", "g", "--no-xla", "--json")
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "g" / "1" / "assets.extra" / "nm_tf.json").read_text())
    assert meta["xla_buckets"] is None
    out = json.loads(r.stdout)
    assert out["version"] == 1 and out["name"] == "g" and out["path"].endswith("g/1") and out["xla_buckets"] is None


# ------------------------------------------------------------------ versions, TF-Serving's way
def _wait(cond, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline and not cond():
        time.sleep(0.1)
    return cond()


# Default-suite budget (session 27): `slow`; the version policy and labels test and the
# retired-version test (test_serving_hostile.py) stay in the default run.
@pytest.mark.slow
def test_versions_swap_only_after_loading_unload_when_deleted_reload_when_rewritten(run_dir, tmp_path):
    from nm_tf.export import export_model
    from nm_tf.models import NewmanMooreRNN

    base = tmp_path / "models"
    export_run(run_dir, base, "m", xla=False)                     # version 1 (graph: no warm-up compiles)
    logs = []
    with SamplerServer(base, grpc_port=0, rest_port=0, poll_seconds=0.1, quiet=True) as srv:
        srv.store.log = logs.append
        # A half-written version 2: only its graph file. Version 1 keeps serving; status says why.
        (base / "m" / "2").mkdir()
        shutil.copy(base / "m" / "1" / "saved_model.pb", base / "m" / "2" / "saved_model.pb")
        assert _wait(lambda: ("m", 2) in srv.store.failed)
        time.sleep(1.0)                                           # ten more polls: no retry, no new load
        assert sum("could not load m version 2" in line for line in logs) == 1
        assert _stub(srv).Predict(_request(name="m")).model_spec.version.value == 1
        code, body = _rest(srv, "/v1/models/m")
        states = {s["version"]: s for s in body["model_version_status"]}
        assert states["2"]["state"] == "LOADING" and states["2"]["status"]["error_message"]
        assert states["1"]["state"] == "AVAILABLE"
        # The export completes: version 2 loads and becomes the default.
        shutil.rmtree(base / "m" / "2")
        export_run(run_dir, base, "m", version=2, xla=False)
        assert _wait(lambda: ("m", 2) in srv.store.loaded)
        assert _stub(srv).Predict(_request(name="m")).model_spec.version.value == 2
        # Deleted: unloaded, the default falls back to version 1.
        shutil.rmtree(base / "m" / "2")
        assert _wait(lambda: ("m", 2) not in srv.store.loaded)
        assert _stub(srv).Predict(_request(name="m")).model_spec.version.value == 1
        # Rewritten in place with other weights: the new files are served.
        other = NewmanMooreRNN(L, hidden=8, seed=123)
        shutil.rmtree(base / "m" / "1")
        export_model(other, base / "m" / "1", xla=False)
        want = other.sample(20, [0, 9])[0].numpy()

        def serves_new_files():
            try:
                out = _stub(srv).Predict(_request(name="m", n=20, seed=(0, 9))).outputs["spins"]
            except grpc.RpcError:          # between the removal and the new export
                return False
            return np.array_equal(tf.make_ndarray(out), want)

        assert _wait(serves_new_files)


# ------------------------------------------------------------------ load
def test_sample_budget_refuses_quickly_when_spent():
    import threading

    from nm_tf.server.budget import SampleBudget
    from nm_tf.server.store import ServingError

    budget = SampleBudget(10, wait_seconds=0.2)
    held, release = threading.Event(), threading.Event()

    def holder():
        with budget.take(8):
            held.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(5)
    start = time.perf_counter()
    with pytest.raises(ServingError) as info:
        with budget.take(5):
            pass
    assert info.value.code == "RESOURCE_EXHAUSTED" and time.perf_counter() - start < 1.0
    with pytest.raises(ServingError, match="exceeds"):
        with budget.take(11):
            pass
    release.set()
    t.join()
    with budget.take(10):           # spent budget comes back
        assert budget.in_flight == 10
    assert budget.in_flight == 0


# Default-suite budget (session 26's slower machine): `slow`; the hostile suite's slow and idle sockets test stays
# in the default run.
@pytest.mark.slow
def test_stalled_rest_connection_is_closed(models):
    import socket

    with SamplerServer(models, grpc_port=0, rest_port=0, quiet=True, rest_timeout=1.0) as srv:
        port = int(srv.rest_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST /v1/models/nm:predict HTTP/1.1\r\nHost: x\r\n")   # headers never finished
            t = time.perf_counter()
            assert s.recv(1024) == b""                                       # closed by the server
            assert time.perf_counter() - t < 8


@pytest.mark.slow
def test_load_without_failures():
    r = subprocess.run([sys.executable, "benchmarks/bench_serving_load.py", "--requests", "400", "--concurrency",
                        "100", "--json"], capture_output=True, text=True, timeout=900,
                       cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert r.returncode == 0 and out["rest"]["failures"] == 0 and out["grpc"]["failures"] == 0, out


def test_grpc_model_status_and_energy_units(server):
    from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

    stub = model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(server.grpc_target))
    req = get_model_status_pb2.GetModelStatusRequest()
    req.model_spec.name = "nm"
    status = stub.GetModelStatus(req).model_version_status
    assert [(s.version, s.state) for s in status] == [(1, 30)]          # AVAILABLE
    req.model_spec.name = "../nm"
    with pytest.raises(grpc.RpcError) as info:
        stub.GetModelStatus(req)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    out = _stub(server).Predict(_request(n=20)).outputs
    np.testing.assert_allclose(tf.make_ndarray(out["energy_per_spin"]), tf.make_ndarray(out["energy"]) / (L * L))
