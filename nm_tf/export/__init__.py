"""SavedModel export for TF-Serving.

Re-exports are resolved lazily so that ``nm-tf`` can register its subcommands
without importing TensorFlow.
"""

__all__ = ["check_export", "existing_export", "export_metadata", "export_model", "export_run", "load_run_model",
           "next_version"]


def check_export(workdir, name: str, version=None, allow_unfinished: bool = False):
    """What :func:`export_run` checks before it loads anything, without TensorFlow (so that ``nm-tf export``
    refuses a bad name, version or unfinished run in well under a second): one line each."""
    from ..annealing.rundir import RunDir
    from ..errors import UsageError
    from ..servable import MAX_VERSION, valid_model_name, valid_version

    if not valid_model_name(name):
        raise UsageError(f"model name must be a plain name of letters, digits, '_', '.' and '-' (not starting "
                         f"with '.', '_' or '-', at most 128 characters), got {name!r}")
    if version is not None and not valid_version(version):
        raise UsageError(f"version must be an integer in 1..{MAX_VERSION} (TF-Serving's int64), got {version}")
    run = RunDir(workdir)
    if run.exists and not run.finished and not allow_unfinished:
        raise UsageError(f"run {workdir} has not finished; pass --allow-unfinished to export its latest checkpoint")
    return run


def __getattr__(name):
    if name in __all__:         # the rest of the package's export API: TensorFlow loads with it
        from . import savedmodel

        return getattr(savedmodel, name)
    raise AttributeError(name)
