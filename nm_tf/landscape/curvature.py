"""Curvature of the training loss: extreme Hessian eigenvalues from Hessian-vector products and Lanczos.

The loss is the one a run minimises at its snapshot's T and Gamma, per spin: VCA ``F/N = <E + T log p>/N``,
VQA ``<H>/N`` with ``psi = sqrt(p)`` (plus ``T <log p>/N`` when both are set), as a function of the flattened
weights ``theta``. Two estimators, each one fixed smooth function of ``theta`` so that Lanczos sees one linear
operator:

* ``exact`` (N <= 16): the sums over all 2^N configurations;
* sampled, with common random numbers: ``M`` configurations ``s_k`` drawn once from ``p_theta0`` (seed), and the
  importance-sampling estimate ``L(theta) = mean_k w_k(theta) L_loc(s_k; theta)`` with ``w_k = p_theta(s_k) /
  p_theta0(s_k)``. For every ``theta`` its expectation is the exact loss, so its gradient at ``theta0`` is the
  training gradient's estimator and its Hessian an unbiased estimate of the exact Hessian.

Hessian-vector products are double backprop through the explicit-weights pass of the model (TensorFlow's
autodiff: the hand-written first-order backward pass is not twice differentiable); scipy's ``eigsh`` (ARPACK's
Lanczos) on a ``LinearOperator`` gives the ``k`` largest and smallest eigenvalues, both edges from one Lanczos run
(``BE``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UsageError

__all__ = ["CurvatureProblem", "curvature_along_trajectory", "heldout_quotients", "hessian_extremes"]

EXACT_MAX_SITES = 16


class _Kernel:
    """The traced loss, gradient and Hessian-vector product of one network shape and estimator, shared by every
    :class:`CurvatureProblem` of that shape: the point's samples, energies, reference log-probabilities, T and Gamma
    are arguments, not constants captured in the trace, so a curvature run along a trajectory traces once instead of
    once per point (31-46 s per point for VQA at L = 5: benchmarks/README.md). XLA still compiles again for each
    new set of samples (12-16 s at L = 6-16; new T alone reuses the compiled product): which op of the
    teacher-forced pass takes the samples as a compile-time constant is not found yet."""

    def __init__(self, cfg: dict, *, exact: bool, field: bool, jit_compile: bool):
        import tensorflow as tf

        from ..models.factory import build_model

        # A float64 copy built with autodiff (the Hessian needs a twice-differentiable pass).
        self.model = build_model(cfg, jit_compile=False, manual_backprop=False)
        self.exact, self.field = exact, field
        self.names = self.shapes = None
        # Static shapes (no reduce_retracing): the scan takes the batch size as a number; a study keeps one sample
        # count, so it traces once.
        self.hvp = tf.function(self._hvp, jit_compile=jit_compile)
        self.gradient = tf.function(self._gradient)   # traced once, not eager per call
        self.log_p = tf.function(self._log_p)

    def _weights(self, theta):
        import tensorflow as tf

        out, k = {}, 0
        for name, shape in zip(self.names, self.shapes):
            size = int(np.prod(shape))
            w = tf.reshape(theta[k:k + size], shape)
            out[name] = w[None] if len(shape) == 2 else w[None, None]      # a point axis P = 1; biases [1, 1, d]
            k += size
        return out

    def _log_p(self, theta, bits):
        m = self.model
        return m._scan_loop(bits.shape[0], None, m.sites_to_steps(bits[None]), self._weights(theta),
                            batched=True)[1][0]

    def loss(self, theta, point):
        """The loss per spin at flat weights ``theta``; ``point = (bits, energy, lp0, T, gamma)``."""
        import tensorflow as tf

        bits, energy, lp0, T, gamma = point
        n = float(self.model.n_sites)
        lp = self._log_p(theta, bits)
        if self.exact:
            weight = tf.exp(lp)                             # p(s) over all states: sums, not means
        else:
            weight = tf.exp(lp - lp0) / tf.cast(tf.shape(bits)[0], tf.float64)
        loc = energy + T * lp
        if self.field:
            if self.exact:
                # every flipped configuration is itself a row of the enumeration (row index = sum_i s_i 2^i), so its
                # log p is a gather, not a pass: the double backprop traces in seconds instead of ~40 s at L = 2
                rows = tf.range(tf.shape(bits)[0])[:, None]
                site_bits = tf.bitwise.left_shift(1, tf.range(bits.shape[1]))[None]
                flipped = tf.gather(lp, tf.bitwise.bitwise_xor(rows, site_bits))
            else:
                flipped = self.model.single_flip_log_probs(bits[None], weights=self._weights(theta))[0]
            loc = loc - gamma * tf.reduce_sum(tf.exp(0.5 * (flipped - lp[:, None])), axis=1)
        return tf.reduce_sum(weight * loc) / n

    def _hvp(self, theta, v, point):
        import tensorflow as tf

        with tf.GradientTape() as outer:
            outer.watch(theta)
            with tf.GradientTape() as inner:
                inner.watch(theta)
                value = self.loss(theta, point)
            g = inner.gradient(value, theta)
            gv = tf.reduce_sum(g * v)
        return outer.gradient(gv, theta)

    def _gradient(self, theta, point):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(theta)
            value = self.loss(theta, point)
        return tape.gradient(value, theta)


_KERNELS: dict = {}


class CurvatureProblem:
    """The loss of one model's weights as a function of a flat float64 vector, and its Hessian-vector product."""

    def __init__(self, model, *, quantum: bool, T: float, gamma: float, J: float = 1.0, exact: bool = False,
                 samples: int = 1000, seed: int = 0, jit_compile: bool | None = None):
        import tensorflow as tf

        from ..hamiltonian import energy_tf

        n = model.n_sites
        if exact and n > EXACT_MAX_SITES:
            raise UsageError(f"--exact enumerates 2^N states; N = {n} > {EXACT_MAX_SITES} is too large")
        if not exact and not (isinstance(samples, int) and 1 <= samples <= 100_000):
            raise UsageError(f"samples must be 1..100000, got {samples!r}")
        self.quantum, self.exact = bool(quantum), bool(exact)
        self.T, self.gamma = float(T), float(gamma)
        field = bool(self.quantum and self.gamma)
        if jit_compile is None:
            # XLA makes the sampled VCA product 1.7-1.9x faster at L = 6-16 (benchmarks/bench_curvature.py), worth
            # its compile (~2x the plain trace) over a Lanczos run's ~100 products. Not for the transverse-field
            # term: XLA cannot compile the double backprop through its flip passes (a TensorList of unknown size);
            # not for exact sums, which serve small checks where the compile would dominate.
            jit_compile = not exact and not field
        self.jit_compile = bool(jit_compile)
        cfg = {"L": model.L, "hidden": model.hidden, "cell": model.cell_type, "ordering": model.ordering_name,
               "dtype": "float64", "prob_floor": model.prob_floor}
        key = (tuple(sorted(cfg.items())), self.exact, field, self.jit_compile)
        if key not in _KERNELS:
            _KERNELS[key] = _Kernel(cfg, exact=self.exact, field=field, jit_compile=self.jit_compile)
        self._kernel = kernel = _KERNELS[key]
        self.names = list(model.rnn_cell.weight_dict())
        values = [np.asarray(v, np.float64) for v in (model.rnn_cell.weight_dict()[k].numpy() for k in self.names)]
        self.shapes = [v.shape for v in values]
        if kernel.names is None:
            kernel.names, kernel.shapes = self.names, self.shapes
        self.theta0 = np.concatenate([v.ravel() for v in values])
        self.n_params = self.theta0.size
        if exact:
            # row r is the configuration with s_i = bit i of r: the loss's exact field term relies on this order
            states = ((np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.int32)
        else:
            kernel.model.set_weights(values)
            states = kernel.model.sample(samples, seed=[int(seed), 0])[0].numpy()
        bits = tf.constant(states, tf.int32)
        self.samples = len(states)
        energy = energy_tf(bits, model.L, J, dtype=tf.float64)
        lp0 = tf.zeros([self.samples], tf.float64) if exact else kernel.log_p(tf.constant(self.theta0), bits)
        self._point = (bits, energy, lp0, tf.constant(self.T, tf.float64), tf.constant(self.gamma, tf.float64))

    def loss(self, theta):
        """The loss per spin at flat weights ``theta`` (a float64 tensor)."""
        return self._kernel.loss(theta, self._point)

    def hvp(self, v) -> np.ndarray:
        """``H v`` at ``theta0``."""
        import tensorflow as tf

        return self._kernel.hvp(tf.constant(self.theta0), tf.constant(np.asarray(v, np.float64)), self._point).numpy()

    def gradient(self, theta=None) -> np.ndarray:
        """The loss's gradient at ``theta`` (default ``theta0``)."""
        import tensorflow as tf

        theta = tf.constant(self.theta0 if theta is None else theta, tf.float64)
        return self._kernel.gradient(theta, self._point).numpy()


def hessian_extremes(problem: CurvatureProblem, top: int = 5, bottom: int = 5, tol: float = 1e-8,
                     seed: int = 0, both_ends: bool = True, vectors: bool = False) -> dict:
    """The ``top`` largest and ``bottom`` smallest Hessian eigenvalues (ARPACK Lanczos on H v products), and
    ``products``, the number of H v products it took; with ``vectors``, also their unit eigenvectors as
    ``top_vectors`` and ``bottom_vectors`` (arrays [k, n_params], in the order of the eigenvalues).

    ``both_ends``: one Lanczos run for both edges (ARPACK's ``which="BE"``, half of its 2 max(top, bottom)
    eigenvalues from each end), where the model has parameters enough; else one run per edge. The shared Krylov
    space needs 43 products where the two runs need 94-105 (L = 4 VCA, L = 5 VQA, 3 482 parameters;
    benchmarks/README.md), for the same eigenvalues to 1e-13 relative."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    n = problem.n_params
    for name, k in (("top", top), ("bottom", bottom)):
        if not isinstance(k, int) or k < 0 or k >= n - 1:
            raise UsageError(f"--{name} must be an integer in 0..{n - 2} (the model has {n} parameters), got {k!r}")
    products = [0]

    def matvec(v):
        products[0] += 1
        return problem.hvp(v)

    op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    v0 = np.random.default_rng(seed).normal(size=n)
    out = {}
    half = max(top, bottom)

    def solve(k, which):
        """Eigenvalues ascending, and the eigenvectors as rows in that order (None without ``vectors``)."""
        res = eigsh(op, k=k, which=which, tol=tol, v0=v0, return_eigenvectors=vectors)
        vals, vecs = res if vectors else (res, None)
        order = np.argsort(vals)
        return vals[order], None if vecs is None else vecs[:, order].T

    if both_ends and top and bottom and 2 * half < n - 1:
        vals, vecs = solve(2 * half, "BE")
        edges = {"top": (vals[::-1][:top], None if vecs is None else vecs[::-1][:top]),
                 "bottom": (vals[:bottom], None if vecs is None else vecs[:bottom])}
    else:
        edges = {}
        for name, k, which in (("top", top, "LA"), ("bottom", bottom, "SA")):
            if k == 0:
                edges[name] = (np.zeros(0), np.zeros((0, n)))
                continue
            vals, vecs = solve(k, which)
            edges[name] = (vals[::-1], None if vecs is None else vecs[::-1]) if name == "top" else (vals, vecs)
    for name, (vals, vecs) in edges.items():
        out[name] = [float(x) for x in vals]
        if vectors:
            out[f"{name}_vectors"] = np.asarray(vecs, np.float64).reshape(len(vals), n)
    out["products"] = products[0]
    edge = out["top"] + out["bottom"]
    magnitudes = [abs(x) for x in edge if x != 0]
    out["negative_fraction"] = sum(x < 0 for x in edge) / len(edge) if edge else None
    # Over the computed edge only: the ratio of the largest to the smallest magnitude among those eigenvalues.
    out["condition_ratio"] = max(magnitudes) / min(magnitudes) if magnitudes else None
    return out


HELDOUT_BOUND_SE = 3.0     # the one-sided margin, in standard errors, of the held-out bounds below


def heldout_quotients(make_problem, result: dict, seeds) -> dict:
    """Are the Lanczos edges the network's curvature or the sampling noise's? A test on held-out samples.

    ``result`` is :func:`hessian_extremes` with ``vectors=True`` on one sample set; ``make_problem(seed)`` builds the
    same point's :class:`CurvatureProblem` on an independent sample set. For an eigenvector ``v`` found on the first
    set, ``v . H_b v`` on a held-out set ``b`` is an unbiased estimate of ``v . H v`` (``v`` does not depend on
    ``b``; the sampled Hessian is unbiased), and by the Rayleigh-Ritz bounds ``lambda_min(H) <= v . H v <=
    lambda_max(H)`` for the exact Hessian ``H``. So the mean over held-out sets, minus/plus ``HELDOUT_BOUND_SE``
    standard errors, bounds the exact edges: ``lambda_max(H) >= max_v (mean - 3 se)`` over the top vectors and
    ``lambda_min(H) <= min_v (mean + 3 se)`` over the bottom ones — negative curvature is shown when that upper
    bound is below 0. The in-sample eigenvalue minus the held-out mean is the part of the edge the noise made.
    (The same split-sample idea as cross-validation; written here because no library tests Hessian edges so.)

    Returns ``{"seeds", "top", "bottom", "lambda_max_lower", "lambda_min_upper"}``; ``top``/``bottom`` are lists
    of ``{"in_sample", "mean", "se"}`` per vector (``se`` from the spread over sets; NaN for one set).
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise UsageError("the held-out test needs at least one held-out sample set")
    vecs = {name: np.asarray(result[f"{name}_vectors"], np.float64) for name in ("top", "bottom")}
    quotients = {name: [] for name in vecs}
    for seed in seeds:
        problem = make_problem(seed)
        for name, vs in vecs.items():
            quotients[name].append([float(v @ problem.hvp(v)) / float(v @ v) for v in vs])
    out = {"seeds": seeds}
    for name in vecs:
        q = np.array(quotients[name]).reshape(len(seeds), len(vecs[name]))
        se = q.std(axis=0, ddof=1) / np.sqrt(len(seeds)) if len(seeds) > 1 else np.full(q.shape[1], np.nan)
        out[name] = [{"in_sample": float(lam), "mean": float(m), "se": float(e)}
                     for lam, m, e in zip(result[name], q.mean(axis=0), se)]
    k = HELDOUT_BOUND_SE
    out["lambda_max_lower"] = max((r["mean"] - k * r["se"] for r in out["top"]), default=None)
    out["lambda_min_upper"] = min((r["mean"] + k * r["se"] for r in out["bottom"]), default=None)
    return out


TRAJECTORY_CSV = "curvature_trajectory.csv"     # in <run>/trajectory/, beside the kept weights


def curvature_along_trajectory(workdir, *, top: int, bottom: int, samples: int, seed: int, exact: bool,
                               window=None, progress=None) -> Path:
    """:func:`hessian_extremes` at every kept trajectory point of a run (``trajectory_every`` / ``trajectory_dense``),
    or those whose annealed parameter (T for VCA, Gamma for VQA) is in ``window = (low, high)``.

    One row per point in ``<run>/trajectory/curvature_trajectory.csv`` (step, T, gamma, the run's exact loss per spin
    at that step where its history has one, the loss estimate at the point, top_1.., bottom_1..,
    negative_fraction, condition_ratio, samples, seed), appended as each point finishes: a killed call continues
    with the points not yet in the file (which must have been made with the same settings).
    """
    import csv

    import tensorflow as tf

    from ..annealing.rundir import RunDir
    from ..models.factory import build_model
    from .trajectory import in_window, load_trajectory, trajectory_dir

    run = RunDir(workdir)
    cfg = run.config()
    steps, Ts, gammas, weights = trajectory = load_trajectory(workdir)
    if window is not None:
        steps, Ts, gammas, weights = in_window(trajectory, window, quantum=cfg.mode == "vqa")
    if not len(steps):
        raise UsageError(f"no kept trajectory point of {workdir} has {'Gamma' if cfg.mode == 'vqa' else 'T'} in "
                         f"[{window[0]}, {window[1]}]")
    exact_loss = {}
    if run.history_path.exists():
        for row in run.history():
            if row.exact_per_spin is not None:
                exact_loss[row.step] = row.exact_per_spin
    out = trajectory_dir(workdir) / TRAJECTORY_CSV
    header = (["step", "T", "gamma", "exact_per_spin", "loss_per_spin"] + [f"top_{k + 1}" for k in range(top)]
              + [f"bottom_{k + 1}" for k in range(bottom)] + ["negative_fraction", "condition_ratio", "samples",
                                                              "seed"])
    done = set()
    if out.exists():
        with out.open() as fh:
            rows = list(csv.DictReader(fh))
        if rows and (list(rows[0]) != header or rows[0]["samples"] != str("exact" if exact else samples)
                     or rows[0]["seed"] != str(seed)):
            raise UsageError(f"{out} holds curvature with other settings; move it away to start again")
        done = {int(r["step"]) for r in rows}
    else:
        with out.open("w", newline="") as fh:
            csv.writer(fh).writerow(header)
    model = build_model(cfg, jit_compile=False)
    todo = [i for i in range(len(steps)) if int(steps[i]) not in done]
    for n, i in enumerate(todo):
        model.rnn_cell.assign_weight_dict(weights[i])
        problem = CurvatureProblem(model, quantum=cfg.mode == "vqa", T=float(Ts[i]), gamma=float(gammas[i]), J=cfg.J,
                                   exact=exact, samples=samples, seed=seed)
        res = hessian_extremes(problem, top=top, bottom=bottom, seed=seed)
        value = float(problem.loss(tf.constant(problem.theta0)).numpy())
        row = [int(steps[i]), float(Ts[i]), float(gammas[i]), exact_loss.get(int(steps[i]), ""), value,
               *res["top"], *res["bottom"], res["negative_fraction"], res["condition_ratio"],
               "exact" if exact else samples, seed]
        with out.open("a", newline="") as fh:     # one whole row per finished point
            csv.writer(fh).writerow(row)
        if progress is not None:
            progress(n + 1, len(todo), row)
    return out
