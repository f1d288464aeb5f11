"""Variational losses and compiled training steps (VCA, VQA).

VCA (Eq. 6): ``F_loc = E + T log p``; VQA (Eq. 7) with ``psi = sqrt(p)``:
``E_loc = E - Gamma sum_i exp((log p(sigma^i) - log p(sigma)) / 2) + T log p``
(``sigma^i`` = sigma with spin i flipped; ``T`` and ``Gamma`` may both be
non-zero). Both use the control-variate gradient
``mean[(L_loc - mean L_loc) grad log p]``, implemented as the gradient of the
surrogate ``mean[stop_grad(L_loc - mean L_loc) * log p]`` with ``log p`` taken
from the sampling pass itself (one pass per step).

The uniforms of a step are drawn for the whole batch and each replica of a
``tf.distribute`` strategy takes its slice, so a multi-replica step sees exactly
the samples of a single-device step with the same seed.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from ..hamiltonian import GROUND_STATE_TOLERANCE, energy_tf, ground_state_energy
from ..models.chunks import map_in_chunks
from ..models.rnn import uniforms_from_seed
from ..errors import UsageError

__all__ = ["StepSpec", "local_losses", "make_train_step", "make_vca_step", "sampled_flip_log_probs",
           "single_flip_log_probs"]

DEFAULT_FLIP_CHUNK = 4096  # rows per teacher-forced pass for the N flipped configurations


def single_flip_log_probs(model, bits, chunk: int = DEFAULT_FLIP_CHUNK):
    """``log p`` of every single-spin flip of every configuration (the model's suffix pass).

    Args:
        model: a :class:`~nm_tf.models.NewmanMooreRNN`.
        bits: int32 ``[B, N]``.
        chunk: memory budget: at most this many rows (configurations x L flips of a lattice row)
            in one pass of :meth:`~nm_tf.models.NewmanMooreRNN.single_flip_log_probs`.

    Returns:
        ``[B, N]``: entry ``(b, i)`` is ``log p`` of ``bits[b]`` with site ``i`` flipped.

    The configurations are split into the fewest passes that respect ``chunk``, each of
    (nearly) equal size, so the padding is under one configuration per pass; with a static
    batch (every training step) the sizes are static for XLA.
    """
    return map_in_chunks(model.single_flip_log_probs, bits, int(chunk) // model.L, model.rnn_cell.compute_dtype)


def flip_seed(seed, update):
    """The sampled flips' seed of update ``update`` of the step with seed ``seed``: its own stream, apart from the
    samples' uniforms (a single run and an ensemble member draw the same sites)."""
    return tf.random.experimental.stateless_fold_in(seed, (1 << 30) + update)


def sampled_flips(bits, k: int, seed):
    """``(sites int32 [B, k], flipped [B, k, N])``: ``k`` sites per configuration drawn uniformly without
    replacement (the ``k`` largest of N i.i.d. uniforms: tf.random has no choice without replacement for a batch
    of rows) and the configurations with each flipped."""
    n = bits.shape[-1]
    noise = tf.random.stateless_uniform(tf.stack([tf.shape(bits)[0], n]), seed=seed)
    sites = tf.math.top_k(noise, k=k, sorted=False).indices
    return sites, tf.bitwise.bitwise_xor(bits[:, None, :], tf.one_hot(sites, n, dtype=bits.dtype))


def sampled_flip_log_probs(model, bits, k: int, seed, chunk: int = DEFAULT_FLIP_CHUNK):
    """``log p`` of ``k`` single-spin flips per configuration, at sites drawn uniformly without replacement.

    Args:
        bits: int32 ``[B, N]``; k: flips per configuration (``1 <= k <= N``); seed: int64 ``[2]`` (stateless).
        chunk: memory budget as in :func:`single_flip_log_probs`.

    Returns:
        ``(sites int32 [B, k], log_p [B, k])``.

    Each flipped configuration gets a whole teacher-forced pass (N site steps), where the exact sum's suffix
    passes cost about N/2 per flip on average: the k flips cost ``k N`` against ``~N^2 / 2``.
    """
    n = model.n_sites
    sites, flipped = sampled_flips(bits, k, seed)                                      # [B, k], [B, k, N]
    lp = map_in_chunks(model.log_prob_graph, tf.reshape(flipped, [-1, n]), max(1, int(chunk) // model.L),
                       model.rnn_cell.compute_dtype)
    return sites, tf.reshape(lp, tf.shape(sites))


def local_losses(model, bits, log_p, T, gamma, *, quantum: bool, J: float = 1.0,
                 flip_chunk: int = DEFAULT_FLIP_CHUNK, penalty: float = 0.0, weights=None, flip_log_probs=None,
                 flip_samples: int = 0, flip_seed=None):
    """Local loss of each sample (no gradient) and its classical energy: the one estimator that
    training and every landscape use.

    Args:
        bits: int32 ``[*S, N]``; log_p: ``[*S]``; T, gamma: scalars. ``S = [B]``, or ``[P, B]`` with
            ``weights`` stacked along a point axis (landscapes).
        quantum: include the transverse-field term (VQA).
        penalty: ``lambda`` of the paper's trivial-state penalty, adding
            ``lambda * sum_i b_i`` (the overlap with the all-down state, in spins).
        weights: None (the model's own) or stacked weights for the flip amplitudes.
        flip_log_probs: ``[*S, N]`` log p of the single-flip neighbours when the caller has them
            (the exact landscape looks them up in its table of all states), or with ``flip_samples`` the
            ``[*S, K]`` log p of the sampled flips (an ensemble's, over stacked weights); else computed here.
        flip_samples: 0 (the exact sum over all N flips) or ``K``: the transverse-field term from ``K`` sites per
            sample drawn uniformly without replacement (``flip_seed``, int64 ``[2]``), weighted ``N / K``: an
            unbiased estimate of the sum (:func:`sampled_flip_log_probs`). Computed here for the model's own
            weights only (``S = [B]``).

    Returns:
        ``(loss_loc [*S], energy [*S])``.
    """
    dt = log_p.dtype
    log_p = tf.stop_gradient(log_p)
    e = tf.reshape(energy_tf(tf.reshape(bits, [-1, model.n_sites]), model.L, J, dtype=dt), tf.shape(log_p))
    loc = e + tf.cast(T, dt) * log_p
    if penalty:
        loc = loc + tf.constant(penalty, dt) * tf.cast(tf.reduce_sum(bits, axis=-1), dt)
    if quantum:
        if flip_log_probs is not None:
            flipped = tf.stop_gradient(flip_log_probs)
        elif flip_samples:
            if weights is not None:
                raise UsageError("flip_samples computes the flips with the model's own weights; pass stacked "
                                 "weights' sampled flips as flip_log_probs")
            _, flipped = sampled_flip_log_probs(model, bits, flip_samples, flip_seed, flip_chunk)
            flipped = tf.stop_gradient(flipped)
        elif weights is None:
            flipped = single_flip_log_probs(model, bits, flip_chunk)
        else:
            flipped = model.single_flip_log_probs(bits, weights=weights)
        off_diagonal = tf.reduce_sum(tf.exp(0.5 * (flipped - log_p[..., None])), axis=-1)
        if flip_samples:
            off_diagonal = (model.n_sites / flip_samples) * off_diagonal
        loc = loc - tf.cast(gamma, dt) * off_diagonal
    return tf.stop_gradient(loc), e


@dataclasses.dataclass(frozen=True)
class StepSpec:
    """What one training step computes: the run configuration's fields that :func:`make_train_step` needs
    (see its arguments for each)."""

    num_samples: int
    quantum: bool = False
    J: float = 1.0
    minibatch: int | None = None
    flip_chunk: int = DEFAULT_FLIP_CHUNK
    penalty: float = 0.0
    group_score_draws: int = 0
    clip_norm: float = 0.0
    local_loss: str = "fresh"
    baseline_scale: float = 1.0
    sr_shift: float | None = None
    flip_samples: int = 0

    def __post_init__(self):
        # checked here, where both step builders (make_train_step, the ensemble's) receive it
        if self.sr_shift is not None and not self.sr_shift > 0:
            raise UsageError(f"sr_shift must be > 0, got {self.sr_shift!r}")

    @classmethod
    def from_config(cls, cfg) -> "StepSpec":
        """The step an :class:`~nm_tf.annealing.config.AnnealConfig` asks for."""
        vqa = cfg.mode == "vqa"
        return cls(num_samples=cfg.samples, quantum=vqa, J=cfg.J, minibatch=cfg.minibatch, flip_chunk=cfg.flip_chunk,
                   penalty=cfg.penalty, group_score_draws=cfg.symmetry_score_draws, clip_norm=cfg.clip_norm,
                   local_loss=cfg.local_loss, baseline_scale=cfg.vqa_baseline_scale if vqa else 1.0,
                   sr_shift=cfg.sr_shift if cfg.optimizer == "sr" else None,
                   flip_samples=cfg.flip_samples if vqa else 0)


def step_sums(loc, e, log_p, ground_below, axis=None):
    """A training step's running sums over samples: local loss, energy, energy squared, log p and the number of
    ground states (energy at most ``ground_below``: :func:`ground_state_threshold`). ``axis``: the sample axis
    (None: all; an ensemble passes 1 and gets one column per member)."""
    dt = e.dtype
    return tf.stack([tf.reduce_sum(loc, axis), tf.reduce_sum(e, axis), tf.reduce_sum(e * e, axis),
                     tf.reduce_sum(tf.stop_gradient(log_p), axis), tf.reduce_sum(tf.cast(e <= ground_below, dt), axis)])


def ground_state_threshold(L: int, J: float, dtype):
    """A sample is a ground state when its energy is within J/4 of e0 (hamiltonian.is_ground_state's rule)."""
    return tf.constant(ground_state_energy(L, J) + GROUND_STATE_TOLERANCE * J, dtype)


def apply_unless(optimizer, grads, variables, keep, members: int | None = None):
    """``optimizer.apply(grads, variables)``, then put back the weights and the optimizer's state (Adam's moments
    and step count) wherever ``keep`` is False: a skipped step changes nothing. A zero gradient is not enough:
    Adam would still move the weights along its momentum and decay its moments. ``members``: an ensemble's K,
    ``keep [K]`` masks each member's slice (the leading axis of its stacked variables; the shared step count
    goes on). The kept values are selected, not recomputed, so a step that is kept gives the same numbers as a
    plain ``apply``."""
    state = list(variables) + list(optimizer.variables)
    if members is not None:
        state = [v for v in state if len(v.shape) and v.shape[0] == members]
    before = [tf.identity(tf.convert_to_tensor(v)) for v in state]
    optimizer.apply(grads, variables)
    for v, old in zip(state, before):
        mask = keep if members is None else tf.reshape(keep, [members] + [1] * (len(v.shape) - 1))
        v.assign(tf.where(mask, tf.convert_to_tensor(v), old))


def make_train_step(model, optimizer, spec, *, jit_compile: bool = True, strategy=None, group=None, **fields):
    """Build a compiled step ``step(seed int64[2], T, gamma) -> metrics``.

    Args:
        model: the ansatz.
        optimizer: a Keras optimizer (built here on the model's variables).
        spec: a :class:`StepSpec`, or ``N_s`` (the samples drawn per step) with the other fields of a
            :class:`StepSpec` as keywords (``quantum=True, minibatch=10, ...``):
        jit_compile: XLA-compile the step (single device only).
        strategy: optional ``tf.distribute.Strategy``: samples split across
            replicas, the baseline and gradients all-reduced.
        group: a :class:`~nm_tf.models.symmetry.SymmetryGroup` to train the symmetrised
            ``p_G(s) = mean_g p(g s)`` instead of ``p`` (samples ``g s``, exact ``log p_G`` by ``|G|``
            teacher-forced passes, ``psi_G = sqrt(p_G)`` for VQA); single device only.

    The :class:`StepSpec` fields:
        quantum: VQA (True) or VCA (False).
        minibatch: ``N_b`` (Table I): the ``N_s`` samples of the step are split
            into mini-batches of ``N_b`` and one optimizer update is made per
            mini-batch (teacher-forced ``log p`` at the current weights,
            baseline over the mini-batch). ``None``: one update on all samples.
        penalty: trivial-state penalty ``lambda`` (see :func:`local_losses`).
        group_score_draws: 0: the gradient of ``log p_G`` through all ``|G|`` teacher-forced passes
            (exact); ``K > 0``: through ``K`` images per sample drawn from ``p(g s) / sum_g p(g s)``, the
            ``|G|`` passes for ``log p_G`` itself untaped (unbiased, noisier, faster; see
            :func:`~nm_tf.models.symmetry.symmetrized_log_prob_and_score_images`).
        clip_norm: > 0 scales each update's gradient down to this global norm when it is larger
            (``grad_norm`` reports the norm before clipping); 0 leaves it alone (Table I).
        local_loss: ``"fresh"`` (each mini-batch's local losses at the weights of its own update) or
            ``"stale"`` (the authors' code: ``log p`` and the local losses of all ``N_s`` samples once, at
            the step's starting weights, reused by every mini-batch update; only the score ``log p`` in the
            surrogate is re-evaluated). Needs ``minibatch``.
        baseline_scale: the control variate is ``baseline_scale * mean(L_loc)`` (1: the full mean; the
            authors' VQA cost ``2 mean(log p E) - mean(E) mean(log p / 2)`` is ``2 mean((E - mean(E) / 4)
            log p)``, i.e. 1/4, times 2, which Adam does not see but for its epsilon).
        flip_samples: 0 or ``K``: VQA's transverse-field term from ``K`` sampled flips per sample
            (:func:`local_losses`), the sites drawn from the step's seed.
        sr_shift: None (the plain gradient) or the diagonal shift ``eps > 0`` of stochastic reconfiguration:
            each update's gradient becomes ``(S + eps I)^{-1} g`` over that update's samples
            (:mod:`.sr`); not with a symmetry group, a distribution strategy or ``baseline_scale != 1``.

    Returns:
        A callable returning a dict of scalar tensors for the samples drawn:
        ``loss`` (mean local loss per spin), ``energy``, ``energy_std``
        (per spin), ``entropy`` (``-mean log p / N``), ``grad_norm`` and
        ``finite``; with SR also ``sr_qr_solves`` (the step's updates whose
        system was solved from QR factors). A step whose loss or gradient is
        NaN/inf changes neither the weights nor the optimizer's state
        (:func:`apply_unless`) and reports ``finite = False``.
    """
    if not isinstance(spec, StepSpec):
        spec = StepSpec(num_samples=spec, **fields)
    elif fields:
        raise TypeError(f"make_train_step: give a StepSpec or keywords, not both ({sorted(fields)})")
    num_samples, quantum, J, minibatch = spec.num_samples, spec.quantum, spec.J, spec.minibatch
    flip_chunk, penalty, group_score_draws, clip_norm = spec.flip_chunk, spec.penalty, spec.group_score_draws, \
        spec.clip_norm
    local_loss, baseline_scale, sr_shift = spec.local_loss, spec.baseline_scale, spec.sr_shift
    flip_samples = spec.flip_samples
    if flip_samples and (group is not None or not 1 <= flip_samples <= model.n_sites):
        raise UsageError(f"flip_samples must be in 1..N = {model.n_sites} and cannot be combined with a symmetry "
                         f"group, got {flip_samples}")

    variables = model.trainable_variables
    optimizer.build(variables)
    n = float(model.n_sites)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    if num_samples <= 0 or num_samples % replicas:
        raise UsageError(f"num_samples ({num_samples}) must be positive and divisible by the "
                         f"number of replicas ({replicas})")
    local_b = num_samples // replicas
    if minibatch is not None and (strategy is not None or minibatch <= 0 or num_samples % minibatch):
        raise UsageError(f"minibatch ({minibatch}) must be a positive divisor of num_samples "
                         f"({num_samples}) and cannot be combined with a distribution strategy")
    dt = model.rnn_cell.compute_dtype
    if local_loss not in ("fresh", "stale"):
        raise UsageError(f"local_loss must be fresh or stale, got {local_loss!r}")
    if local_loss == "stale" and (minibatch is None or group is not None):
        raise UsageError("local_loss stale needs minibatch and cannot be combined with a symmetry group")
    scale = tf.constant(float(baseline_scale), dt)
    if sr_shift is not None:
        if group is not None or strategy is not None or baseline_scale != 1.0:
            raise UsageError("stochastic reconfiguration cannot be combined with a symmetry group, replicas > 1 "
                             "or a baseline scale other than 1")
        from .sr import per_sample_scores, sr_direction

    def gradient(tape, surrogate, bits, loc):
        """The update's gradient: the surrogate's, or its SR-preconditioned form from the same samples; and
        1.0 when SR's system had to be solved from QR factors (see :func:`~nm_tf.annealing.sr.sr_solve`)."""
        if sr_shift is None:
            return tape.gradient(surrogate, variables), tf.constant(0.0, dt)
        grads, by_qr = sr_direction(per_sample_scores(model, bits, variables), loc, sr_shift, quantum, variables,
                                    report=True)
        return grads, tf.cast(by_qr, dt)
    if group is not None and strategy is not None:
        raise UsageError("a symmetry group cannot be combined with a distribution strategy")
    # VQA without a group: the flip amplitudes reuse the hidden states of the pass that gave log p
    # (one teacher-forced pass fewer per update) when the rows fit one flip pass.
    reuse = quantum and group is None and not flip_samples and (minibatch or local_b) * model.L <= flip_chunk
    if group is None:
        draw = lambda b, seed: model.sample_graph(b, seed)[0]  # noqa: E731
    else:
        from ..models.symmetry import (symmetrized_flip_log_probs, symmetrized_log_prob,
                                       symmetrized_log_prob_and_score_images, symmetrized_sample)

        draw = lambda b, seed: symmetrized_sample(model, group, b, seed)[0]  # noqa: E731

    def group_passes(bits, seed):
        # Untaped: the flips for VQA and, with drawn images, log p_G for the local losses and the images
        # whose log p is an unbiased score of p_G (then only the pass over those is taped).
        flipped = symmetrized_flip_log_probs(model, group, bits) if quantum else None
        if not group_score_draws:
            return None, flipped, bits
        log_p, images = symmetrized_log_prob_and_score_images(model, group, bits, seed, group_score_draws)
        return log_p, flipped, images

    def group_score(log_p, images):
        """(log p_G for the local losses, the taped score whose gradient is that of log p_G)."""
        if not group_score_draws:           # exact: every image taped; ``images`` are the samples
            score = symmetrized_log_prob(model, group, images)
            return score, score
        lp = model.log_prob_graph(tf.reshape(images, [-1, model.n_sites]))
        return log_p, tf.reduce_mean(tf.reshape(lp, [-1, group_score_draws]), axis=1)

    def taped_pass(n, uniforms=None, bits=None, reuse=reuse):
        """The pass whose ``log p`` is differentiated (no symmetry group): sampling from ``uniforms`` or
        teacher-forced on ``bits``. ``(bits, log p, score, flip log-probs or None)``; with ``reuse`` the flip
        amplitudes come from the same pass's hidden states (one teacher-forced pass fewer per update)."""
        source = {"uniforms": uniforms} if bits is None else {"given": model.sites_to_steps(bits)}
        if reuse:
            drawn, log_p, hs, step_bits = model.scan(n, keep=True, **source)
            bits = drawn if bits is None else bits
            return bits, log_p, log_p, model.single_flip_log_probs(bits, kept=(hs, step_bits))
        drawn, log_p = model.scan(n, **source)
        return (drawn if bits is None else bits), log_p, log_p, None

    def apply(grads, loss_mean, total=None):
        """``total``: the summed gradient, when ``grads`` is one replica's share of it. Keras's
        ``apply`` in a replica context sums the shares itself, so the shares are what it gets;
        the norm (for the log, the NaN/inf test and the clip) is that of the sum."""
        gnorm = tf.linalg.global_norm(grads if total is None else total)
        finite = tf.math.is_finite(gnorm) & tf.math.is_finite(loss_mean)
        if clip_norm:
            # By hand rather than Adam's global_clipnorm: that one would take each replica's norm.
            grads, _ = tf.clip_by_global_norm(grads, clip_norm, use_norm=gnorm)
        apply_unless(optimizer, [tf.where(finite, g, tf.zeros_like(g)) for g in grads], variables, finite)
        return gnorm, finite

    ground_below = ground_state_threshold(model.L, J, dt)

    def sums_of(loc, e, log_p):
        return step_sums(loc, e, log_p, ground_below)

    def metrics(sums, gnorm, finite, by_qr):
        mean_e = sums[1] / num_samples
        var_e = tf.maximum(sums[2] / num_samples - mean_e ** 2, 0.0)
        out = {"loss": sums[0] / num_samples / n, "energy": mean_e / n,
               "energy_std": tf.sqrt(var_e) / n, "entropy": -sums[3] / num_samples / n,
               "ground_state_fraction": sums[4] / num_samples,
               "grad_norm": gnorm, "finite": finite}
        if sr_shift is not None:
            out["sr_qr_solves"] = by_qr        # this step's updates whose SR system needed the QR route
        return out

    def replica_step(seed, T, gamma):
        ctx = tf.distribute.get_replica_context()
        start = ctx.replica_id_in_sync_group * local_b if strategy is not None else 0
        u = uniforms_from_seed([model.L, model.L, num_samples], seed, dt)[:, :, start:start + local_b]
        if group is not None:
            bits = draw(local_b, seed)
            log_p, flipped, image = group_passes(bits, seed)
        with tf.GradientTape() as tape:
            if group is not None:
                log_p, score = group_score(log_p, image)
            else:
                bits, log_p, score, flipped = taped_pass(local_b, uniforms=u)
            loc, e = local_losses(model, bits, log_p, T, gamma, quantum=quantum, J=J,
                                  flip_chunk=flip_chunk, penalty=penalty, flip_log_probs=flipped,
                                  flip_samples=flip_samples,
                                  flip_seed=flip_seed(seed, ctx.replica_id_in_sync_group if strategy else 0))
            sums = sums_of(loc, e, log_p)
            if strategy is not None:
                sums = ctx.all_reduce(tf.distribute.ReduceOp.SUM, sums)
            surrogate = tf.reduce_sum((loc - scale * sums[0] / num_samples) * score) / num_samples
        grads, by_qr = gradient(tape, surrogate, bits, loc)
        total = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads) if strategy is not None else None
        gnorm, finite = apply(grads, sums[0], total)
        return metrics(sums, gnorm, finite, by_qr)

    def minibatch_step(seed, T, gamma):
        # The samples are drawn once at the step's starting weights; each mini-batch then takes
        # log p and its local losses at the weights of its own update. The step's metrics are
        # accumulated from those mini-batch passes, so no flip amplitudes are computed twice.
        if local_loss == "stale":
            return stale_minibatch_step(seed, T, gamma)
        bits = draw(num_samples, seed)
        sums = tf.zeros([5], dt)
        gnorm, finite, by_qr = tf.constant(0.0, dt), tf.constant(True), tf.constant(0.0, dt)
        for k in range(num_samples // minibatch):
            part = bits[k * minibatch:(k + 1) * minibatch]
            if group is not None:
                lp, flipped, image = group_passes(part, tf.random.experimental.stateless_fold_in(seed, k))
            with tf.GradientTape() as tape:
                if group is not None:
                    lp, score = group_score(lp, image)
                else:
                    _, lp, score, flipped = taped_pass(minibatch, bits=part)
                loc_k, e_k = local_losses(model, part, lp, T, gamma, quantum=quantum, J=J,
                                          flip_chunk=flip_chunk, penalty=penalty, flip_log_probs=flipped,
                                          flip_samples=flip_samples, flip_seed=flip_seed(seed, k))
                surrogate = tf.reduce_mean((loc_k - scale * tf.reduce_mean(loc_k)) * score)
            grads, q = gradient(tape, surrogate, part, loc_k)
            g, f = apply(grads, tf.reduce_mean(loc_k))
            sums += sums_of(loc_k, e_k, lp)
            gnorm, finite, by_qr = tf.maximum(gnorm, g), finite & f, by_qr + q
        return metrics(sums, gnorm, finite, by_qr)

    def stale_minibatch_step(seed, T, gamma):
        # The authors' order: sample, then log p and the local losses of all samples at the starting
        # weights (the metrics are theirs), then one update per mini-batch with those losses kept. The
        # samples are i.i.d., so taking the mini-batches in drawn order equals the authors' shuffle.
        # The sampling pass (untaped); with ``reuse``, VQA's flips come from its hidden states, else
        # local_losses computes them in chunked passes.
        u = uniforms_from_seed([model.L, model.L, num_samples], seed, dt)
        reuse_here = quantum and not flip_samples and num_samples * model.L <= flip_chunk
        bits, log_p, _, flipped = taped_pass(num_samples, uniforms=u, reuse=reuse_here)
        log_p = tf.stop_gradient(log_p)
        loc, e = local_losses(model, bits, log_p, T, gamma, quantum=quantum, J=J, flip_chunk=flip_chunk,
                              penalty=penalty, flip_log_probs=flipped, flip_samples=flip_samples,
                              flip_seed=flip_seed(seed, 0))
        sums = sums_of(loc, e, log_p)
        gnorm, finite, by_qr = tf.constant(0.0, dt), tf.constant(True), tf.constant(0.0, dt)
        for k in range(num_samples // minibatch):
            part, loc_k = bits[k * minibatch:(k + 1) * minibatch], loc[k * minibatch:(k + 1) * minibatch]
            with tf.GradientTape() as tape:
                score = model.log_prob_graph(part)
                surrogate = tf.reduce_mean((loc_k - scale * tf.reduce_mean(loc_k)) * score)
            grads, q = gradient(tape, surrogate, part, loc_k)
            g, f = apply(grads, tf.reduce_mean(loc_k))
            gnorm, finite, by_qr = tf.maximum(gnorm, g), finite & f, by_qr + q
        return metrics(sums, gnorm, finite, by_qr)

    if strategy is None:
        return tf.function(minibatch_step if minibatch else replica_step, jit_compile=jit_compile)

    @tf.function
    def step(seed, T, gamma):
        out = strategy.run(replica_step, args=(seed, T, gamma))
        return {k: strategy.experimental_local_results(v)[0] for k, v in out.items()}

    return step


def make_vca_step(model, optimizer, num_samples: int, jit_compile: bool = True):
    """VCA step ``step(seed, T)`` (benchmark convenience)."""
    step = make_train_step(model, optimizer, num_samples, jit_compile=jit_compile)
    return lambda seed, T: step(seed, T, tf.constant(0.0))
