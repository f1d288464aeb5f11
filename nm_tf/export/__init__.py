"""SavedModel export for TF-Serving."""

from .savedmodel import export_model, export_run, load_run_model, next_version

__all__ = ["export_model", "export_run", "load_run_model", "next_version"]
