"""Admission control: a budget of samples in flight across all requests of a server.

Sampling cost and memory grow with the number of samples a request asks for, not with the
number of requests, so the server admits work by samples: a request takes ``num_samples``
(or its batch rows) from the budget for as long as it runs. When the budget is spent, a new
request waits at most ``wait_seconds`` and is then refused with RESOURCE_EXHAUSTED / HTTP 503,
quickly, instead of queueing without bound or exhausting memory.
"""

from __future__ import annotations

import contextlib
import threading
import time

from ..errors import ServingError

__all__ = ["SampleBudget"]


class SampleBudget:
    def __init__(self, limit: int, wait_seconds: float = 5.0):
        self.limit, self.wait_seconds = int(limit), float(wait_seconds)
        self.in_flight = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def take(self, cost: int):
        cost = max(1, int(cost))
        if cost > self.limit:
            raise ServingError("RESOURCE_EXHAUSTED", f"request of {cost} samples exceeds this server's budget "
                                                     f"of {self.limit} samples in flight")
        deadline = time.monotonic() + self.wait_seconds
        with self._cond:
            while self.in_flight + cost > self.limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ServingError("RESOURCE_EXHAUSTED",
                                       f"server busy: {self.in_flight} samples in flight (budget {self.limit}); "
                                       f"retry later")
                self._cond.wait(left)
            self.in_flight += cost
        try:
            yield
        finally:
            with self._cond:
                self.in_flight -= cost
                self._cond.notify_all()
