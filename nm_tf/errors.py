"""Exception types the command line reports without a traceback."""


class RunError(RuntimeError):
    """A long job stopped for a reason the user should see (exit code 1)."""
