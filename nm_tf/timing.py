"""The one timing helper of the benchmark scripts: wall time of calls, and the machine they ran on."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time

__all__ = ["machine", "median_ms", "timed"]


def timed(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), seconds)``."""
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def median_ms(fn, repeats: int) -> float:
    """Median wall time in ms of ``fn(r)`` for ``r = 0 .. repeats-1`` (``r`` lets each call take its own seed)."""
    times = []
    for r in range(repeats):
        _, s = timed(fn, r)
        times.append(s * 1e3)
    return statistics.median(times)


def machine() -> str:
    """One line for a benchmark table's header."""
    text = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    tf = sys.modules.get("tensorflow")      # named only when the benchmark uses it
    if tf is not None:
        text += f", TF {tf.__version__}"
    return text
