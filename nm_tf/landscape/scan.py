"""Algorithm 2 on a grid: chunked, resumable, with optional repeats and common random numbers.

``loss[i, j] = f(alpha[i], beta[j])`` with ``alpha = beta = linspace(-span, span, points)``.
Sampling seeds: fresh samples at every point (the paper's choice) use the
stateless seed ``[seed, repeat * points^2 + i * points + j]``; common random
numbers (``crn``) use ``[seed, repeat]`` at every point, so the only thing that
changes across the plane is the weights. ``exact`` sums over all 2^N states
instead of sampling (N <= 16).

Far from ``theta*`` the hidden state of a perturbed RNN can grow geometrically
along the N sites and overflow float32 (at L = 16 with N(0, 1) directions from
|alpha|, |beta| ~ 0.2 on): such points are stored as NaN and counted in
``nonfinite_points``, never clipped into a made-up value.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np

from .directions import NORMALIZATIONS, atomic_savez
from ..errors import UsageError

__all__ = ["EXACT_MAX_SITES", "LandscapeSpec", "PlaneProblem", "roughness", "scan_plane"]

EXACT_MAX_SITES = 16   # exact landscapes enumerate 2^N states

SAVE_EVERY_SECONDS = 20.0
# Bounds from memory: the grid keeps repeats x points^2 float64 losses (+ a done mask), and one
# compiled call holds at least one point's samples x N hidden states.
MAX_POINTS = 2000
MAX_SAMPLES = 100_000
MAX_REPEATS = 1000
LIMITS_NOTE = "the grid is held in memory as repeats x points^2 numbers, and each point's samples at once"


@dataclasses.dataclass(frozen=True)
class LandscapeSpec:
    """How to scan one plane (defaults: Table I, ``N_points = 200``).

    Attributes:
        points: grid points per axis (>= 2).
        span: ``alpha, beta in [-span, span]``.
        samples: ``N_s`` samples per point (and repeat).
        seed: seed of the directions and of the sampling.
        crn: common random numbers: the same uniforms at every point.
        repeats: independent evaluations per point (mean and spread are stored).
        normalization: ``"none"`` (the paper's), ``"filter"`` or ``"layer"``.
        orthogonalize: make ``eta`` orthogonal to ``delta``.
        exact: exact loss by enumeration (N <= 16) instead of sampling.
        chunk: grid points per compiled call (None: chosen from the batch size).
    """

    points: int = 200
    span: float = 1.0
    samples: int = 100
    seed: int = 0
    crn: bool = False
    repeats: int = 1
    normalization: str = "none"
    orthogonalize: bool = False
    exact: bool = False
    chunk: int | None = None

    def __post_init__(self):
        def positive_int(name, minimum=1):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
                raise UsageError(f"{name} must be an integer >= {minimum}, got {v!r}")

        positive_int("points", 2)
        positive_int("samples")
        positive_int("repeats")
        for name, limit in (("points", MAX_POINTS), ("samples", MAX_SAMPLES), ("repeats", MAX_REPEATS)):
            if getattr(self, name) > limit:
                raise UsageError(f"{name} must be <= {limit}, got {getattr(self, name)} ({LIMITS_NOTE})")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise UsageError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not isinstance(self.span, (int, float)) or not math.isfinite(self.span) or self.span <= 0:
            raise UsageError(f"span must be a finite number > 0, got {self.span!r}")
        if self.normalization not in NORMALIZATIONS:
            raise UsageError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        if self.chunk is not None:
            positive_int("chunk")
        if self.exact and self.repeats != 1:
            raise UsageError("exact landscapes have no sampling noise: repeats must be 1")

    def grid(self) -> np.ndarray:
        return np.linspace(-self.span, self.span, self.points)

    def identity(self) -> dict:
        """The fields that decide the numbers (a partial grid may only be resumed with these)."""
        d = dataclasses.asdict(self)
        d.pop("chunk")
        return d


def roughness(loss: np.ndarray) -> float:
    """Mean ``|f(p) - f(q)|`` over neighbouring grid points (both axes; NaN points skipped).

    For fresh-sample scans it includes the sampling noise, about ``1.13 sigma / sqrt(N_s)``.
    """
    loss = np.asarray(loss, dtype=float)
    return 0.5 * float(np.nanmean(np.abs(np.diff(loss, axis=0))) + np.nanmean(np.abs(np.diff(loss, axis=1))))


@dataclasses.dataclass(frozen=True)
class PlaneProblem:
    """What a worker needs to evaluate chunks of one grid (plain arrays: picklable)."""

    center: dict
    delta: dict
    eta: dict
    alpha: np.ndarray
    beta: np.ndarray
    spec: LandscapeSpec
    T: float
    gamma: float

    def evaluate(self, evaluator, job):
        """``(mean [chunk], std [chunk] or None)`` of one job ``(repeat, selected, padded points)``."""
        r, _, idx = job
        total = len(self.alpha)
        if self.spec.exact:
            return evaluator.exact(self.center, self.delta, self.eta, self.alpha[idx], self.beta[idx], self.T,
                                   self.gamma)
        stream = np.full(len(idx), r) if self.spec.crn else r * total + idx
        seeds = np.stack([np.full(len(idx), self.spec.seed), stream], axis=1)
        return evaluator.sampled(self.center, self.delta, self.eta, self.alpha[idx], self.beta[idx], seeds, self.T,
                                 self.gamma, self.spec.samples), None


def chunk_size(spec: LandscapeSpec, n_sites: int, quantum: bool) -> int:
    if spec.chunk:
        return spec.chunk
    if spec.exact:
        rows = 2 ** n_sites * (n_sites if quantum else 1)
        return max(1, 65536 // rows)
    per_point = spec.samples * (n_sites + 1 if quantum else 1)
    # Rows per compiled call: larger chunks amortise the per-call work, up to a point (VQA L = 5,
    # 200 x 200 on 2 cores: 7 points per call 199 s, 14: 170 s, 28: 144 s, 30: 149 s, 56: 157 s).
    return max(1, (80000 if quantum else 12800) // per_point)


def scan_plane(evaluator, center, delta, eta, spec: LandscapeSpec, *, T: float, gamma: float, out: Path,
               meta: dict, progress=None, executor=None) -> dict:
    """Evaluate the grid and write ``out`` (``landscape_<tag>.npz``).

    Partial results go to ``<out>.partial.npz`` every ~20 s; a later call with the
    same spec, T and Gamma continues from them (a different one raises).

    Args:
        evaluator: a :class:`~nm_tf.landscape.evaluate.PlaneLoss`.
        center, delta, eta: ``{weight name: array}``.
        spec: the scan.
        T, gamma: temperature and field of the loss.
        out: output path.
        meta: extra scalars stored in the file (``mode``, ``tag``, ``step`` ...).
        progress: optional :class:`~nm_tf.progress.Progress`-like object (``update``/``close``).
        executor: None (evaluate here) or an object whose ``run(problem, settings, jobs)`` yields
            ``(job, result)`` pairs in any order, computed elsewhere (e.g.
            :class:`~nm_tf.landscape.distributed.RayExecutor`). Every job is the same compiled
            call with the same per-point seeds, so the grid does not depend on where it ran.

    Returns:
        The arrays written (``alpha``, ``beta``, ``loss`` ``[points, points]``, ...).
    """
    out = Path(out)
    grid = spec.grid()
    n = spec.points
    a_flat, b_flat = (g.ravel() for g in np.meshgrid(grid, grid, indexing="ij"))
    total = n * n
    identity = json.dumps({**spec.identity(), "T": float(T), "gamma": float(gamma)}, sort_keys=True)
    partial = out.with_name(out.name.replace(".npz", ".partial.npz"))
    loss = np.full((spec.repeats, total), np.nan)
    done = np.zeros((spec.repeats, total), dtype=bool)   # a finished point may hold NaN/inf (overflow)
    sampling_std = np.full(total, np.nan)
    if partial.exists():
        old = np.load(partial)
        if str(old["identity"]) != identity:
            raise UsageError(f"{partial} is a partial scan with other settings; delete it or scan with "
                             f"{old['identity']}")
        loss, done, sampling_std = old["loss"], old["done"], old["sampling_std"]
    chunk = chunk_size(spec, evaluator.model.n_sites, evaluator.quantum and gamma != 0.0)
    if progress is not None:
        progress.update(int(done.sum()), force=True)
    last_save = time.monotonic()

    def save_partial():
        atomic_savez(partial, loss=loss, done=done, sampling_std=sampling_std, identity=identity)

    jobs = []   # (repeat, selected points, padded points): one compiled call each, in a fixed order
    for r in range(spec.repeats):
        todo = np.flatnonzero(~done[r])
        for k in range(0, len(todo), chunk):
            sel = todo[k:k + chunk]
            jobs.append((r, sel, np.pad(sel, (0, chunk - len(sel)), mode="edge")))   # one compiled shape

    problem = PlaneProblem(center=center, delta=delta, eta=eta, alpha=a_flat, beta=b_flat, spec=spec, T=float(T),
                           gamma=float(gamma))
    if executor is None:
        results = ((job, problem.evaluate(evaluator, job)) for job in jobs)
    else:
        results = executor.run(problem, evaluator.settings(), jobs)
    for (r, sel, _), (mean, std) in results:
        if std is not None:
            sampling_std[sel] = std[:len(sel)] / math.sqrt(spec.samples)
        loss[r, sel] = mean[:len(sel)]
        done[r, sel] = True
        if progress is not None:
            progress.update(int(done.sum()))
        if time.monotonic() - last_save > SAVE_EVERY_SECONDS:
            save_partial()
            last_save = time.monotonic()
    if progress is not None:
        progress.close()

    zero = np.zeros(1)
    if spec.exact:
        center_loss = float(evaluator.exact(center, delta, eta, zero, zero, T, gamma)[0][0])
    else:
        vals = []
        for r in range(spec.repeats):
            stream = r if spec.crn else r * total + total // 2   # crn: the grid's own numbers
            vals.append(evaluator.sampled(center, delta, eta, zero, zero, np.array([[spec.seed, stream]]),
                                          T, gamma, spec.samples)[0])
        center_loss = float(np.mean(vals))
    result = {
        "alpha": grid, "beta": grid, "loss": loss.mean(axis=0).reshape(n, n),
        "T": float(T), "gamma": float(gamma), "direction_seed": spec.seed, "center_loss": center_loss,
        "samples": spec.samples, "crn": spec.crn, "repeats": spec.repeats, "span": float(spec.span),
        "normalization": spec.normalization, "orthogonalize": spec.orthogonalize, "exact": spec.exact,
        "nonfinite_points": int((~np.isfinite(loss.mean(axis=0))).sum()),
        **meta,
    }
    if spec.repeats > 1:
        result["loss_std"] = loss.std(axis=0, ddof=1).reshape(n, n)
        result["loss_sem"] = result["loss_std"] / math.sqrt(spec.repeats)
        result["loss_repeats"] = loss.reshape(spec.repeats, n, n)
    if spec.exact:
        result["loss_sampling_std"] = sampling_std.reshape(n, n)
    atomic_savez(out, **result)
    partial.unlink(missing_ok=True)
    return result
