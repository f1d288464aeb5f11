"""Exception types the command line reports as one line, without a traceback.

``UsageError`` (exit 2): input the user can fix. ``RunError`` (exit 1): a long job stopped for
a reason the user should see. Anything else is a bug and keeps its traceback. ``ServingError``:
what the server answers a refused request with (a status code and a message), never raised to the CLI.
"""


class UsageError(ValueError):
    """An input problem the user can fix; printed without a traceback (exit code 2)."""


class RunError(RuntimeError):
    """A long job stopped for a reason the user should see (exit code 1)."""


class ServingError(Exception):
    """A request the server refuses, with its TF-Serving status code name (``NOT_FOUND``, ...)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
