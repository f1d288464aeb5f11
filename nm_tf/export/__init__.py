"""SavedModel export for TF-Serving.

Re-exports are resolved lazily so that ``nm-tf`` can register its subcommands
without importing TensorFlow.
"""

__all__ = ["existing_export", "export_metadata", "export_model", "export_run", "load_run_model", "next_version"]


def __getattr__(name):
    if name in __all__:
        from . import savedmodel

        return getattr(savedmodel, name)
    raise AttributeError(name)
