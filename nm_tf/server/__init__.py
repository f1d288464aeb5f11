"""Embedded TF-Serving-compatible sampler server (needs the ``serving`` extra)."""
