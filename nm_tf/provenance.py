"""Which code produced a result: the package version and, in a git checkout, the commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["code_commit", "provenance"]


def code_commit(path=None) -> str | None:
    """The git commit of the checkout holding ``path`` (default: this package), with ``+dirty``
    when tracked files differ from it; None outside a git checkout (e.g. an installed wheel)."""
    where = Path(path or Path(__file__).resolve().parent)
    try:
        head = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no", "."],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def provenance() -> dict:
    from . import __version__

    return {"nm_tf_version": __version__, "code_commit": code_commit()}
