"""Argument types shared by the subcommands: one-line errors, number lists, lattice sizes."""

from __future__ import annotations

import argparse
import math

from ..errors import UsageError

__all__ = ["MAX_EXACT_L", "OneLineParser", "parse_L", "parse_float_list", "parse_window"]


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):  # argparse's default prints usage; keep it one line
        raise UsageError(message)


def parse_float_list(text: str, name: str, *, positive: bool = False, nonneg: bool = False):
    """Parse ``"0.5,1,2"`` into ``[("0.5", 0.5), ...]``, keeping the text as written."""
    out = []
    for item in text.split(","):
        item = item.strip()
        try:
            value = float(item)
        except ValueError:
            raise UsageError(f"{name} must be a comma-separated list of numbers, got {item!r}") from None
        if math.isnan(value) or math.isinf(value):
            raise UsageError(f"{name} must be finite, got {item!r}")
        if positive and value <= 0:
            raise UsageError(f"{name} must be > 0, got {item!r}")
        if nonneg and value < 0:
            raise UsageError(f"{name} must be >= 0, got {item!r}")
        out.append((item, value))
    return out


def parse_window(text: str, flag: str = "--window"):
    """Parse ``"LOW:HIGH"`` (a range of T or Gamma) into ``(low, high)`` with ``0 <= low <= high``."""
    try:
        low, high = (float(x) for x in text.split(":"))
    except ValueError:
        raise UsageError(f"{flag} must be LOW:HIGH, got {text!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and 0 <= low <= high):
        raise UsageError(f"{flag} needs 0 <= LOW <= HIGH, got {text!r}")
    return low, high


MAX_EXACT_L = 128   # GF(2) elimination of the N x N parity map: N^2/8 bytes (32 MB) and ~30 s at L = 128


def parse_L(text: str) -> int:
    """argparse type for a lattice size: an integer 2..MAX_EXACT_L."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"L must be an integer >= 2, got {text!r}") from None
    if not 2 <= value <= MAX_EXACT_L:
        raise argparse.ArgumentTypeError(f"L must be an integer 2..{MAX_EXACT_L} (the GF(2) elimination holds an "
                                         f"N x N bit matrix, N = L^2), got {value}")
    return value
