"""The serving contract's names and rules, owned here once: what a model and a version folder may be called.

Export, the server's store and the REST front end import these (no TensorFlow here).
"""

from __future__ import annotations

import re

__all__ = ["DEFAULT_SIGNATURE", "HAMMING_STATS", "LOG_PROB", "MAX_VERSION", "MODEL_NAME", "NUM_SAMPLES",
           "PREDICT_METHOD", "SAMPLE", "SEED", "SPINS", "parse_version_folder", "valid_model_name", "valid_version"]

# The exported signatures and their inputs: what export writes, the server checks and the client sends.
PREDICT_METHOD = "tensorflow/serving/predict"
DEFAULT_SIGNATURE = "serving_default"       # the same function as SAMPLE
SAMPLE, LOG_PROB, HAMMING_STATS = "sample", "log_prob", "hamming_stats"
NUM_SAMPLES, SEED, SPINS = "num_samples", "seed", "spins"     # inputs (SPINS is also an output)

# A served model is a direct child directory of the model base. Its name is one path component from a
# strict set (no separators, no leading dot, so never "." or ".."): a request can never name a path.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
# TF-Serving's versions are int64; a version folder is its decimal digits (ASCII only: "²".isdigit() is True).
MAX_VERSION = 2 ** 63 - 1
_VERSION = re.compile(r"[0-9]{1,19}")


def valid_model_name(name) -> bool:
    return isinstance(name, str) and MODEL_NAME.fullmatch(name) is not None


def valid_version(version) -> bool:
    return isinstance(version, int) and not isinstance(version, bool) and 1 <= version <= MAX_VERSION


def parse_version_folder(name: str):
    """The version a folder name stands for, or None (not ASCII digits, 0, or beyond int64)."""
    if not _VERSION.fullmatch(name):
        return None
    value = int(name)
    return value if valid_version(value) else None
