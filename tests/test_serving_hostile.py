"""The REST server against hostile or unlucky clients: slow sockets, memory bombs, malformed headers."""

import json
import resource
import socket
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("tensorflow_serving")

from nm_tf.export import export_model  # noqa: E402
from nm_tf.models import NewmanMooreRNN  # noqa: E402
from nm_tf.server.server import SamplerServer  # noqa: E402

L = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    export_model(NewmanMooreRNN(L, hidden=4, seed=0, jit_compile=False), base / "nm" / "1", xla=False, warmup=False)
    with SamplerServer(base, grpc_port=0, rest_port=0, max_samples=5000, poll_seconds=0.2, quiet=True,
                       rest_timeout=2.0) as s:
        yield s


def _port(server):
    return int(server.rest_url.rsplit(":", 1)[1])


def _get(server, path="/v1/models/nm", timeout=10):
    with urllib.request.urlopen(server.rest_url + path, timeout=timeout) as r:
        return r.status, json.loads(r.read())


def _raw(server, data: bytes, timeout=20):
    """Send ``data`` and read until the server closes or one full answer has come: ``(status, body)``."""
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
            head, sep, body = got.partition(b"\r\n\r\n")
            if sep:
                length = int(next((ln.split(b":")[1] for ln in head.split(b"\r\n")
                                   if ln.lower().startswith(b"content-length")), b"0"))
                if len(body) >= length:
                    break
    head, _, body = got.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_slow_and_idle_sockets_do_not_block_a_normal_request(server):
    """200 connections that trickle a request line, or send nothing, hold no worker: a normal GET is fast."""
    socks = []
    try:
        for k in range(200):
            s = socket.create_connection(("127.0.0.1", _port(server)), timeout=10)
            if k % 2:
                s.sendall(b"GET /v1/mod")              # a request line that never ends
            socks.append(s)
        time.sleep(0.2)
        t = time.perf_counter()
        status, body = _get(server)
        assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"
        assert time.perf_counter() - t < 1.0
    finally:
        for s in socks:
            s.close()


def test_a_body_of_empty_arrays_is_refused_before_parsing(server):
    body = b"[]," * 400_000 + b"[]"                      # 1.2 MB: json.loads would build 400 000 lists
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    status, answer = _raw(server, _post(body))
    assert status == 400 and "at most 5000 rows" in json.loads(answer)["error"]
    many = b'{"instances": [' + b"0," * 60_000 + b"0]}"    # more values than 5000 rows of 9 spins
    status, answer = _raw(server, _post(many))
    assert status == 400 and "values" in json.loads(answer)["error"]
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 100_000     # KiB


def _post(body: bytes) -> bytes:
    return (b"POST /v1/models/nm:predict HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


@pytest.mark.parametrize("request_bytes, status, message", [
    (_post(b'{"signature_name": ["a"], "inputs": {"num_samples": 1}}'), 400, "signature_name must be a string"),
    (b"GET /v1/models/nm/versions/" + b"9" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400, "version must be"),
    (b"GET /v1/models/nm/versions/99999999999999999999 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "version must be"),
    (b"GET /v1/models/nm/versions/%C2%B2 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "version must be"),
    (b"POST /v1/models/nm:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n12345",
     400, "conflicting Content-Length"),
    (b"POST /v1/models/nm:predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400, "Transfer-Encoding"),
    (b"BREW /v1/models/nm HTTP/1.1\r\nHost: x\r\n\r\n", 405, "not supported"),
    (b"nonsense\r\n\r\n", 400, "Bad request line"),
])
def test_malformed_requests_get_a_json_error(server, request_bytes, status, message):
    got, body = _raw(server, request_bytes)
    assert got == status and message in json.loads(body)["error"]


def test_a_body_shorter_than_its_content_length_is_a_408(server):
    t = time.perf_counter()
    status, body = _raw(server, b"POST /v1/models/nm:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}")
    assert status == 408 and "did not arrive" in json.loads(body)["error"]
    assert time.perf_counter() - t < 8


def test_keep_alive_serves_several_requests_on_one_connection(server):
    req = b"GET /v1/models/nm HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=10) as s:
        for _ in range(3):
            s.sendall(req)
            got = b""
            while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"}"):
                got += s.recv(65536)
            assert got.startswith(b"HTTP/1.1 200")
    try:
        _get(server, "/v1/models/missing")
    except urllib.error.HTTPError as err:
        assert err.code == 404


def test_odd_version_folders_are_ignored_and_a_failed_export_leaves_nothing(tmp_path, monkeypatch):
    """A folder named "²" (str.isdigit accepts it) or beyond int64 does not take the model down; an export
    that fails half-way (a full disk) leaves no partial version folder and the next export works."""
    import errno

    from nm_tf.errors import RunError
    from nm_tf.export import savedmodel
    from nm_tf.server.store import ModelStore

    base = tmp_path / "models"
    model = NewmanMooreRNN(L, hidden=4, seed=0, jit_compile=False)
    export_model(model, base / "nm" / "1", xla=False, warmup=False)
    for odd in ("²", str(10 ** 20), "0", "-3"):
        (base / "nm" / odd).mkdir()
        (base / "nm" / odd / "saved_model.pb").write_bytes(b"garbage")
    store = ModelStore(base, log=lambda *_: None)
    try:
        assert store.get("nm").version == 1 and [s["version"] for s in store.status("nm")] == ["1"]
    finally:
        store.close()
    assert savedmodel.next_version(base / "nm") == 2

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(savedmodel, "write_warmup", full_disk)
    with pytest.raises(RunError, match="No space left on device"):
        export_model(model, base / "nm" / "2", xla=False)
    assert sorted(p.name for p in (base / "nm").iterdir() if not p.name.startswith(("²", "1", "0", "-"))) == []
    monkeypatch.undo()
    export_model(model, base / "nm" / "2", xla=False, warmup=False)
    assert (base / "nm" / "2" / "saved_model.pb").exists()
