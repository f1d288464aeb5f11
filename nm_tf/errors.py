"""Exception types the command line reports as one line, without a traceback.

``UsageError`` (exit 2): input the user can fix. ``RunError`` (exit 1): a long job stopped for
a reason the user should see. Anything else is a bug and keeps its traceback.
"""


class UsageError(ValueError):
    """An input problem the user can fix; printed without a traceback (exit code 2)."""


class RunError(RuntimeError):
    """A long job stopped for a reason the user should see (exit code 1)."""
