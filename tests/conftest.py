"""Shared test set-up: quiet, single-threaded numerics (fastest on 2 cores)."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import itertools  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def all_states(L: int) -> np.ndarray:
    """Every bit configuration of an L x L lattice: uint8 [2**N, N]."""
    n = L * L
    return np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.uint8)


@pytest.fixture(scope="session")
def states():
    cache = {}

    def get(L):
        if L not in cache:
            cache[L] = all_states(L)
        return cache[L]

    return get


def raw_http(port: int, data: bytes, timeout: float = 20) -> tuple:
    """Send raw bytes to a local HTTP port; read until the server closes or one full answer has come:
    ``(status, body)``. For requests no HTTP client library would send."""
    import socket

    with socket.create_connection(("127.0.0.1", int(port)), timeout=timeout) as s:
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


def run_cli(*args):
    """``nm-tf ARGS`` run in this process, as a ``CompletedProcess`` (exit code, stdout, stderr).

    A new process per call only adds TensorFlow's start-up (4-7 s on 2 cores) to a test about files and messages;
    the tests about what reaches a terminal (descriptor 2, a second process, argv parsing by the console script)
    keep their subprocess (``test_cli_inputs.py``, the lock test)."""
    import contextlib
    import io
    import logging
    import subprocess

    from nm_tf.cli import main

    out, err = io.StringIO(), io.StringIO()
    logger = logging.getLogger("nm_tf")
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers.clear()            # main adds its console handler on the redirected stderr
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # argparse's own exits (--help, a malformed flag)
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:                           # as it was: --quiet must not silence the next test's log records
        logger.handlers[:], level, logger.propagate = saved
        logger.setLevel(level)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())
