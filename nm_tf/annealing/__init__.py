"""Variational annealing (Algorithm 1)."""
