"""A dependency-free progress line with ETA for long jobs (stderr)."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


def _fmt_time(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """``Progress(total, start=done_already)``; ``update(done, **fields)``; ``close()``.

    Redraws at most every ``interval`` seconds; silent when ``quiet``. The ETA is
    measured from the work done in this process (resumed work is not counted).
    """

    def __init__(self, total: int, start: int = 0, quiet: bool = False, interval: float = 0.5,
                 label: str = "", stream=None):
        self.total, self.start, self.quiet, self.interval = total, start, quiet, interval
        self.label = label
        self.stream = stream or sys.stderr
        self.t0 = time.monotonic()
        self.last = 0.0
        self.done = start

    def update(self, done: int, force: bool = False, **fields):
        self.done = done
        now = time.monotonic()
        if self.quiet or (not force and now - self.last < self.interval and done < self.total):
            return
        self.last = now
        frac = done / self.total if self.total else 1.0
        rate = (done - self.start) / max(now - self.t0, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        bar = "#" * int(24 * frac) + "." * (24 - int(24 * frac))
        extra = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
        eta_s = _fmt_time(eta) if eta != float("inf") else "--:--"
        self.stream.write(f"\r{self.label}[{bar}] {100 * frac:5.1f}% {done}/{self.total} "
                          f"ETA {eta_s} {extra}\033[K")
        self.stream.flush()

    def close(self):
        if not self.quiet:
            self.update(self.done, force=True)
            self.stream.write("\n")
            self.stream.flush()
