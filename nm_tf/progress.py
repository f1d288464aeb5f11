"""Progress of long jobs on stderr: a rich progress bar on a terminal, plain periodic lines otherwise.

``Progress(total, start=done_already, label=...)``; ``update(done, **fields)`` (``label=`` and
``total=`` switch phase, e.g. warm-up -> annealing); ``close()``. The rate and the ETA are measured
from the first update of this process, so neither the compile step before it nor work resumed from
a checkpoint distorts them. Non-terminal streams (logs, CI) get one plain line every ``interval``
seconds and at the end: no carriage returns or escape codes.
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


def _fmt_time(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "--:--"
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _fields(fields: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())


class Progress:
    """``waiting``: what the job does before its first update (e.g. ``"compiling…"``), shown until then."""

    def __init__(self, total: int, start: int = 0, quiet: bool = False, interval: float | None = None,
                 label: str = "", stream=None, waiting: str = ""):
        self.total, self.done, self.label, self.quiet = total, start, label.strip(), quiet
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (0.5 if self.tty else 30.0)
        self.fields = {}
        self._t0 = self._done0 = None
        self._started = time.monotonic()
        self._last = 0.0
        self._bar = None
        if not quiet and self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.percentage:>3.0f}%"), TextColumn("{task.fields[clock]}"),
                                     TextColumn("{task.fields[info]}"),
                                     console=Console(file=self.stream), transient=False)
            self._task = self._add_task(start, waiting)
            self._bar.start()
        elif not quiet and waiting:
            self.stream.write(f"{self.label}: {waiting}\n")
            self.stream.flush()

    def _add_task(self, completed: int, info: str = ""):
        return self._bar.add_task(self.label, total=self.total, completed=completed, clock="", info=info)

    def _clock(self) -> str:
        """Elapsed time of this phase, its rate and the ETA (the rate from the first update: compilation and
        resumed work do not count)."""
        elapsed = time.monotonic() - self._started
        if self._t0 is None or self.done == self._done0:
            return f"{_fmt_time(elapsed)} elapsed"
        rate = (self.done - self._done0) / max(time.monotonic() - self._t0, 1e-9)
        per_second = f"{rate:.0f}" if rate >= 100 else f"{rate:.3g}"
        return f"{_fmt_time(elapsed)} elapsed, {per_second}/s, ETA {_fmt_time(self.eta())}"

    def eta(self) -> float:
        if self._t0 is None:
            return float("inf")
        rate = (self.done - self._done0) / max(time.monotonic() - self._t0, 1e-9)
        return (self.total - self.done) / rate if rate > 0 else float("inf")

    def update(self, done: int, force: bool = False, label: str | None = None, total: int | None = None,
               **fields):
        if label is not None and label.strip() != self.label or total is not None and total != self.total:
            self.label = label.strip() if label is not None else self.label
            self.total = total if total is not None else self.total
            self._t0 = None                 # a new phase: its own rate, clock and (on a terminal) its own line
            self._started = time.monotonic()
            if self._bar is not None:
                self._task = self._add_task(done)
        self.done, self.fields = done, fields
        now = time.monotonic()
        if self._t0 is None:                # the first update follows compilation: time from here
            self._t0, self._done0 = now, done
        if self.quiet or (not force and now - self._last < self.interval and done < self.total):
            return
        self._last = now
        if (self.label, done) == getattr(self, "_shown", None) and self._bar is None:
            return                          # the same line again (e.g. close right after the last update)
        self._shown = (self.label, done)
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=self.total, description=self.label,
                             clock=self._clock(), info=_fields(fields))
        else:
            pct = 100.0 * done / self.total if self.total else 100.0
            self.stream.write(f"{self.label} {done}/{self.total} ({pct:.0f}%) {self._clock()} "
                              f"{_fields(fields)}\n")
            self.stream.flush()

    def close(self):
        if self.quiet:
            return
        self.update(self.done, force=True, **self.fields)
        if self._bar is not None:
            self._bar.stop()
