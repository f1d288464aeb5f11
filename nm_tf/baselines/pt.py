"""Parallel tempering (replica-exchange Monte Carlo) baseline, built on TensorFlow Probability.

``tfp.mcmc.ReplicaExchangeMC`` runs ``replicas`` copies of each of ``chains`` independent chains
on a geometric temperature ladder ``T_min .. T_max`` and proposes swaps between neighbouring
temperatures after every step. Each replica moves with a single-spin-flip sweep kernel
(:func:`make_sweep_kernel_class`): one
Metropolis sweep of single-spin flips over the N sites in a random order (the same order for
every chain, as in :mod:`.sa`). TFP has no kernel for discrete ±1 states, so this one is written
here as a ``tfp.mcmc.TransitionKernel``; it sees only the (tempered) target log-probability that
ReplicaExchangeMC hands it, so the tempering, the swaps and their bookkeeping stay TFP's.

At equilibrium the coldest replica samples the Boltzmann distribution at ``T_min``, under which
every ground state has the same weight: this is the classical reference for uniform coverage.

Budget: as for simulated annealing, one sweep of one chain counts as one configuration energy
evaluation, so ``chains * replicas * sweeps = steps * N_s`` compares equal budgets with an anneal.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math

import numpy as np

from ..errors import UsageError
from ..hamiltonian import energy, ground_state_energy, is_ground_state
from ..lattice import check_L, site_triangles, triangles

__all__ = ["PTConfig", "make_sweep_kernel_class", "parallel_tempering"]

MAX_RECORDED = 20_000   # coldest-replica configurations kept per chain at most (thinned evenly)


@dataclasses.dataclass(frozen=True)
class PTConfig:
    """Parallel tempering settings.

    Attributes:
        L: linear size.
        chains: independent chains (each with its own ladder of replicas).
        replicas: temperatures in the ladder (>= 2).
        sweeps: sweeps per replica, burn-in included.
        T_min, T_max: ends of the geometric ladder; the chain at ``T_min`` is the one sampled.
        burnin: fraction of the sweeps before recording starts.
        J: coupling.
        seed: seed of the initial states, the site orders, the acceptances and the swaps.
    """

    L: int = 6
    chains: int = 10
    replicas: int = 10
    sweeps: int = 1000
    T_min: float = 0.2
    T_max: float = 3.0
    burnin: float = 0.5
    J: float = 1.0
    seed: int = 0

    def __post_init__(self):
        check_L(self.L)
        for name, low in (("chains", 1), ("replicas", 2), ("sweeps", 2)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise UsageError(f"{name} must be an integer >= {low}, got {v!r}")
        for name in ("T_min", "T_max", "J"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise UsageError(f"{name} must be a finite number > 0, got {v!r}")
        if self.T_min >= self.T_max:
            raise UsageError(f"T_min ({self.T_min}) must be below T_max ({self.T_max})")
        if not 0 <= self.burnin < 1:
            raise UsageError(f"burnin must be a fraction in [0, 1), got {self.burnin}")

    @classmethod
    def equal_budget(cls, L: int, steps: int, samples: int, chains: int = 10, replicas: int = 10, **kw):
        """The sweeps that match an anneal of ``steps`` training steps with ``samples`` samples each."""
        return cls(L=L, chains=chains, replicas=replicas, sweeps=max(2, steps * samples // (chains * replicas)), **kw)

    @property
    def temperatures(self) -> np.ndarray:
        return self.T_min * (self.T_max / self.T_min) ** (np.arange(self.replicas) / (self.replicas - 1))


# ReplicaExchangeMC reads target_log_prob and blanks proposed_state/proposed_results after a swap.
SweepResults = collections.namedtuple("SweepResults", ["target_log_prob", "accepted_flips", "proposed_state",
                                                       "proposed_results"])


def _tfp_mcmc():
    import tensorflow_probability as tfp

    return tfp.mcmc


@functools.lru_cache(maxsize=None)
def make_sweep_kernel_class():
    """The sweep kernel, a ``tfp.mcmc.TransitionKernel`` subclass (built on first use: TFP loads only then)."""
    import tensorflow as tf

    mcmc = _tfp_mcmc()

    class _SingleSpinFlipSweep(mcmc.TransitionKernel):
        """One Metropolis sweep of single-spin flips on ±1 states ``[..., N]`` (float).

        Sites are visited in a random order drawn per sweep; a flip is accepted with probability
        ``min(1, exp(log pi(s') - log pi(s)))`` of the target log-probability it is given.

        ``flip_change(state, site)``, when given, returns that difference for a flip of ``site`` in every
        chain from the few spins it depends on: O(1) per proposal instead of a full evaluation of
        the target (O(N)), so a sweep costs O(N) instead of O(N^2). It must include the tempering
        of the target it accompanies. The target is evaluated in full once per sweep, so the log
        probability handed on (ReplicaExchangeMC's swaps use it) carries no rounding drift.
        """

        def __init__(self, target_log_prob_fn, n_sites: int, flip_change=None):
            self._fn, self._n, self._change = target_log_prob_fn, int(n_sites), flip_change
            self._parameters = dict(target_log_prob_fn=target_log_prob_fn, n_sites=n_sites, flip_change=flip_change)

        @property
        def target_log_prob_fn(self):
            return self._fn

        @property
        def parameters(self):
            return self._parameters

        @property
        def is_calibrated(self):
            return True

        def bootstrap_results(self, init_state):
            is_list = isinstance(init_state, (list, tuple))
            lp = self._fn(*init_state) if is_list else self._fn(init_state)
            return SweepResults(target_log_prob=lp, accepted_flips=tf.zeros_like(lp), proposed_state=tf.zeros_like(lp),
                                proposed_results=tf.zeros_like(lp))

        def one_step(self, current_state, previous_kernel_results, seed=None):
            if isinstance(current_state, (list, tuple)):   # TFP hands the state as a list of parts
                state, results = self._sweep(current_state[0], previous_kernel_results, seed,
                                             lambda x: self._fn(x))
                return [state], results
            return self._sweep(current_state, previous_kernel_results, seed, self._fn)

        def _sweep(self, current_state, previous_kernel_results, seed, log_prob):
            n = self._n
            order_seed, u_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
            # A random permutation as the argsort of uniforms (XLA has no stateless shuffle).
            order = tf.argsort(tf.random.stateless_uniform([n], seed=order_seed))
            log_u = tf.math.log(tf.random.stateless_uniform(tf.concat([[n], tf.shape(current_state)[:-1]], 0),
                                                            seed=u_seed, dtype=current_state.dtype))
            eye = tf.eye(n, dtype=current_state.dtype)

            def body(k, state, lp, acc):
                proposed = state * (1.0 - 2.0 * eye[order[k]])
                change = log_prob(proposed) - lp if self._change is None else self._change(state, order[k])
                accept = log_u[k] < change
                return (k + 1, tf.where(accept[..., None], proposed, state), tf.where(accept, lp + change, lp),
                        acc + tf.cast(accept, lp.dtype))

            _, state, lp, acc = tf.while_loop(
                lambda k, *_: k < n, body,
                (tf.constant(0), current_state, previous_kernel_results.target_log_prob,
                 tf.zeros_like(previous_kernel_results.target_log_prob)))
            if self._change is not None:
                lp = log_prob(state)
            return state, SweepResults(target_log_prob=lp, accepted_flips=acc, proposed_state=tf.zeros_like(lp),
                                       proposed_results=tf.zeros_like(lp))

    return _SingleSpinFlipSweep


def parallel_tempering(cfg: PTConfig, local: bool = True) -> dict:
    """Run PT; statistics of the coldest replica.

    ``local=False`` evaluates the whole energy for every proposal (the same chain up to float
    rounding in the acceptance tests, O(N) times slower; kept to check the local updates).

    Returns:
        dict with ``bits`` (uint8 ``[chains, N]``, final coldest states), ``energy`` (their energies),
        ``residual_energy_per_spin`` and ``ground_state_hit_rate`` of the final states (as for SA),
        ``samples`` (uint8 ``[records * chains, N]``, coldest replica after burn-in, thinned to at
        most ``MAX_RECORDED`` per chain), ``ground_state_fraction`` of those samples,
        ``swap_acceptance`` (per adjacent pair), ``flip_acceptance`` (coldest replica),
        ``energy_evaluations`` (``chains * replicas * sweeps``) and ``temperatures``.
    """
    import tensorflow as tf

    mcmc = _tfp_mcmc()
    L, n = cfg.L, cfg.L * cfg.L
    from ..hamiltonian import energy_tf

    def spin_energy(s):
        shape = tf.shape(s)
        bits = tf.cast(s < 0, tf.int32)                     # 1 = spin down (sigma = -1)
        return tf.reshape(energy_tf(tf.reshape(bits, [-1, n]), L, cfg.J), shape[:-1])

    T = cfg.temperatures
    target = lambda s: -spin_energy(s) / cfg.T_min      # noqa: E731 - replica 0 (beta = 1) is at T_min
    betas = tf.constant(cfg.T_min / T, tf.float32)
    # Flipping site i changes E by -J * (sum of the products of its three triangles). The kernel sees
    # the states of all replicas, replicas first ([R, C, N]), each at its slot's inverse temperature.
    corners = tf.constant(triangles(L)[site_triangles(L)], tf.int32)                      # [N, 3, 3]
    slot_beta = betas[:, None] / cfg.T_min

    def flip_change(s, site):
        products = tf.reduce_prod(tf.gather(s, corners[site], axis=-1), axis=-1)       # [R, C, 3]
        return slot_beta * cfg.J * tf.reduce_sum(products, axis=-1)

    kernel_class = make_sweep_kernel_class()
    remc = mcmc.ReplicaExchangeMC(
        target_log_prob_fn=target, inverse_temperatures=betas,
        make_kernel_fn=lambda fn: kernel_class(fn, n, flip_change if local else None))
    burn = int(cfg.sweeps * cfg.burnin)
    kept = cfg.sweeps - burn
    thin = max(1, math.ceil(kept / MAX_RECORDED))
    records = kept // thin
    burn = cfg.sweeps - records * thin
    seed = tf.constant([cfg.seed, 0x97], tf.int32)          # TFP seeds are int32 pairs
    init_seed, chain_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    init = 1.0 - 2.0 * tf.cast(tf.random.stateless_uniform([cfg.chains, n], init_seed, maxval=2,
                                                           dtype=tf.int32), tf.float32)

    @tf.function(jit_compile=True)
    def run():
        def trace(_, kr):
            return (kr.is_swap_accepted_adjacent, kr.is_swap_proposed_adjacent,
                    kr.post_swap_replica_results.accepted_flips[0])

        return mcmc.sample_chain(num_results=records, current_state=init, kernel=remc, num_burnin_steps=burn,
                                 num_steps_between_results=thin - 1, trace_fn=trace, seed=chain_seed)

    states, (swap_ok, swap_try, flips) = run()
    samples = (states.numpy() < 0).astype(np.uint8)                    # [records, chains, N]
    final = samples[-1]
    e_final = energy(final, L, cfg.J)
    e0 = ground_state_energy(L, cfg.J)
    flat = samples.reshape(-1, n)
    tried = swap_try.numpy().astype(np.float64).sum(axis=(0, 2))
    swap = np.where(tried > 0, swap_ok.numpy().astype(np.float64).sum(axis=(0, 2)) / np.maximum(tried, 1), np.nan)
    return {
        "bits": final, "energy": e_final,
        "residual_energy_per_spin": float((e_final.mean() - e0) / n),
        "ground_state_hit_rate": float(is_ground_state(e_final, e0, cfg.J).mean()),
        "samples": flat,
        "ground_state_fraction": float(is_ground_state(energy(flat, L, cfg.J), e0, cfg.J).mean()),
        "swap_acceptance": swap.tolist(),
        "flip_acceptance": float(flips.numpy().mean() / n),
        "energy_evaluations": int(cfg.chains * cfg.replicas * cfg.sweeps),
        "temperatures": T.tolist(),
    }
