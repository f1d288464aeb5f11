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
