"""The autoregressive 2D RNN ansatz (paper Eqs. 2–5) with a compiled sampler.

``p(sigma) = prod_k p(sigma_{s_k} | sigma_{s_<k})`` in the visiting order of an
:class:`~nm_tf.lattice.Ordering`; ``psi = sqrt(p)`` for the quantum case.

Implementation: a ``tf.while_loop`` over the L rows with the L sites of a row
unrolled in Python. The hidden states and one-hot spins of the previous row are
carried as ``[L, B, d_h]`` / ``[L, B, 2]`` tensors in visit order, so the site
above step ``j`` is a static slice (reversed for zigzag, where every row runs
opposite to the one before). No dynamic gathers sit on the gradient path and
``log p`` is accumulated in the sampling pass itself.
"""

from __future__ import annotations

import functools
import numbers

import keras
import numpy as np
import tensorflow as tf

from ..lattice import ORDERINGS, check_L, make_ordering
from .cell import RNN2DCell, bit_log_prob, bit_logit_weights, closing_onehots, prob_of_one
from .options import MAX_PROB_FLOOR
from ..errors import UsageError

__all__ = ["NewmanMooreRNN", "seed_tensor", "uniforms_from_seed"]

_U24 = 2.0 ** -24


def rows_run_opposite(order) -> bool:
    """From the ordering's tables: does each row run opposite to the one above it (zigzag) or the same
    way (raster)? The row-wise scan supports orderings that visit whole rows, top to bottom, in one of
    these two patterns; anything else is refused."""
    L = order.L
    pos = order.position()
    pattern = set()
    for y in range(1, L):
        above = pos[order.vertical[y * L:(y + 1) * L]] - (y - 1) * L    # step, within the row above
        if np.array_equal(above, np.arange(L)[::-1]):
            pattern.add(True)
        elif np.array_equal(above, np.arange(L)):
            pattern.add(False)
        else:
            pattern.add(None)
    if None in pattern or len(pattern) > 1:
        raise ValueError(f"ordering {order.name!r}: the row-wise RNN needs whole rows visited top to bottom, "
                         f"each the same way as the row above or each the opposite way")
    return pattern == {True}


def seed_tensor(seed) -> tf.Tensor:
    """Validate a seed (int, or shape-[2] integers) and return an int64 ``[2]`` tensor."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise UsageError(f"seed must be a non-negative integer or two integers, got {seed}")
        return tf.constant([0, int(seed)], dtype=tf.int64)
    if isinstance(seed, tf.Tensor) and not seed.dtype.is_integer:
        raise UsageError(f"seed must have an integer dtype, got {seed.dtype.name}")
    arr = np.asarray(seed.numpy() if isinstance(seed, tf.Tensor) else seed)
    if not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(f"seed must be an integer or two integers, got dtype {arr.dtype}")
    if arr.shape != (2,):
        raise UsageError(f"seed must be an integer or have shape [2], got shape {list(arr.shape)}")
    return tf.constant(arr.astype(np.int64))


def uniforms_from_seed(shape, seed, dtype=tf.float32):
    """Stateless uniforms in [0, 1) built from 24 random bits.

    Integer draws are bit-identical with and without XLA (float draws are not),
    so the same seed gives the same samples in every compiled variant. The
    algorithm is pinned to Philox: XLA's default choice took 12 ms for 25 600
    draws on CPU, Philox 0.3 ms, with identical bits in graph mode.
    """
    bits = tf.random.stateless_uniform(shape, seed=seed, minval=None, maxval=None, dtype=tf.int32,
                                       alg="philox")
    return tf.cast(tf.bitwise.right_shift(bits, 8) & 0xFFFFFF, dtype) * tf.cast(_U24, dtype)


@keras.saving.register_keras_serializable(package="nm_tf")
class NewmanMooreRNN(keras.Model):
    """Autoregressive 2D RNN over an L x L lattice.

    Args:
        L: linear size.
        hidden: hidden size ``d_h`` (Table I: 40).
        cell: ``"vanilla"`` (ELU, the paper's), ``"gru"``, ``"triangle"`` (also sees the site up and to the
            right, the triangle's second parent) or ``"closing"`` (the triangle cell; in the last row it also sees
            the row-0 spins of the triangles that close the periodic lattice).
        ordering: ``"zigzag"`` (the paper's), ``"raster"`` or ``"raster-wrap"`` (the authors' code: raster,
            with the previous row's last site as the horizontal input of a row's first site).
        seed: seed of the weight initialisation.
        jit_compile: compile ``sample``/``log_prob`` with XLA.
        dtype: ``"float32"`` (default) or ``"float64"``.
        manual_backprop: differentiate ``log p`` of the vanilla, triangle and closing cells with the hand-written
            backward pass of :mod:`nm_tf.models.backprop` (False: TensorFlow autodiff; the gated cell always uses it).
        init: weight initialisation, ``"glorot"`` (ours) or ``"authors"`` (:data:`~nm_tf.models.cell.INITS`).
        prob_floor: ``0`` (default) or a small ``eps > 0``: every conditional becomes
            ``(p + eps) / (1 + 2 eps)`` (the authors' ``softmax + 1e-8``, renormalised).

    Spins are bits (``1`` = down); outputs are in site order ``i = x + L*y``.

    Example:
        >>> model = NewmanMooreRNN(L=4, hidden=8, seed=0)
        >>> spins, log_p = model.sample(10, seed=1)        # [10, 16] int32, [10]
        >>> bool(np.allclose(model.log_prob(spins), log_p, atol=1e-5))
        True
    """

    def __init__(self, L: int, hidden: int = 40, cell: str = "vanilla", ordering: str = "zigzag",
                 seed: int = 0, jit_compile: bool = True, dtype="float32", manual_backprop: bool = True,
                 init: str = "glorot", prob_floor: float = 0.0, **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.L = check_L(L)
        if ordering not in ORDERINGS:
            raise UsageError(f"ordering must be one of {ORDERINGS}, got {ordering!r}")
        self.ordering_name = ordering
        self.init_seed = int(seed)
        self.jit_compile = bool(jit_compile)
        self.manual_backprop = bool(manual_backprop)
        if (isinstance(prob_floor, bool) or not isinstance(prob_floor, numbers.Real)
                or not 0.0 <= prob_floor <= MAX_PROB_FLOOR):
            raise UsageError(f"Received an invalid value for argument `prob_floor`: expected a number in "
                             f"[0, {MAX_PROB_FLOOR}], got {prob_floor!r}")
        self.prob_floor = float(prob_floor)
        self.rnn_cell = RNN2DCell(hidden=hidden, cell=cell, seed=self.init_seed, init=init, dtype=dtype,
                                  name="cell")
        self.rnn_cell.build()
        self.built = True
        order = make_ordering(self.L, ordering)
        self._steps_to_sites = tf.constant(order.position(), dtype=tf.int32)
        self._sites_to_steps = tf.constant(order.sites, dtype=tf.int32)
        self._reverse_above = rows_run_opposite(order)
        self._wrap_rows = ordering == "raster-wrap"
        self._triangle = cell in ("triangle", "closing")
        self._closing = cell == "closing"
        if self._closing:
            # Row L - 1's step j sits at column x_j; its closing triangles reach (x_j, 0) and (x_j - 1, 0), which
            # row 0 visited at these steps.
            cols = order.columns.reshape(self.L, self.L)
            step_in_row0 = np.argsort(cols[0])
            self._close_steps = tf.constant(np.stack([step_in_row0[cols[-1]], step_in_row0[(cols[-1] - 1) % self.L]]),
                                            dtype=tf.int32)          # [2, L]
        self._fns = {}

    # ------------------------------------------------------------------ properties
    @property
    def n_sites(self) -> int:
        return self.L * self.L

    @property
    def hidden(self) -> int:
        return self.rnn_cell.hidden

    @property
    def cell_type(self) -> str:
        return self.rnn_cell.cell

    def get_config(self):
        return {**super().get_config(), "L": self.L, "hidden": self.hidden, "cell": self.cell_type,
                "ordering": self.ordering_name, "seed": self.init_seed,
                "jit_compile": self.jit_compile, "manual_backprop": self.manual_backprop,
                "init": self.rnn_cell.init, "prob_floor": self.prob_floor}

    # ------------------------------------------------------------------ core pass
    def scan(self, batch, uniforms=None, given=None, weights=None, keep: bool = False,
             stacked_backprop: bool = False):
        """Run the RNN over all sites: sampling (``uniforms``) or teacher forcing (``given``).

        Args:
            batch: number of configurations ``B`` (int or scalar tensor).
            uniforms: ``[L, L, *S]`` uniforms in step order (sampling), or None.
            given: ``[L, L, *S]`` bits in step order (teacher forcing), or None.
            weights: None (the layer's own weights, ``S = [B]``) or a
                :meth:`RNN2DCell.weight_dict`-shaped mapping with a leading point
                axis ``P`` (kernels ``[P, K, d]``, biases ``[P, 1, d]``), ``S = [P, B]``.

            keep: also return the pass's hidden states and bits in visiting order, ``hs [L, L, *S, d]``
                and ``step_bits [L, L, *S]`` (no gradient), for :meth:`single_flip_log_probs`
                to reuse instead of running the pass again.

        Returns:
            ``(bits [*S, N] int32 in site order, log_prob [*S])`` (plus ``hs, step_bits`` with ``keep``).

        Gradients of ``log_prob`` with respect to the model's own weights come from the
        hand-written backward pass (:mod:`.backprop`) when ``manual_backprop`` is set and the
        cell is vanilla, triangle or closing, and from TensorFlow's autodiff otherwise (explicit ``weights``, GRU).
        ``stacked_backprop``: explicit stacked ``weights`` get the hand-written pass too (an ensemble's training;
        first-order only: the curvature's double backprop keeps autodiff).
        """
        if self.hand_written_backprop and (weights is None or stacked_backprop):
            out = self._scan_manual_backprop(batch, uniforms, given, weights)
            return out if keep else out[:2]
        out = self._scan_loop(batch, uniforms, given, weights, batched=weights is not None, keep=keep)
        if keep:
            return out[0], out[1], tf.stop_gradient(out[2]), tf.stop_gradient(out[3])
        return out

    def _scan_manual_backprop(self, batch, uniforms, given, weights=None):
        """:meth:`scan` with the hand-written gradient of ``log p`` (:mod:`.backprop`) with respect to the model's
        own weights, or to stacked ``weights``; returns ``(bits, log_p, hs, step_bits)``."""
        from .backprop import log_prob_grads

        source = self.rnn_cell.weight_dict() if weights is None else weights

        @tf.custom_gradient
        def run(kernel, bias, out_kernel, out_bias):
            w = {"kernel": kernel, "bias": bias, "out_kernel": out_kernel, "out_bias": out_bias}
            bits, log_p, hs, step_bits = self._scan_loop(batch, uniforms, given, w, batched=weights is not None,
                                                         keep=True)

            def grad(d_bits, d_log_p, d_hs, d_step_bits):   # hs and step_bits are returned without gradient
                return log_prob_grads(hs, step_bits, d_log_p, kernel, out_kernel, out_bias, **self.backprop_options())

            return (bits, log_p, tf.stop_gradient(hs), tf.stop_gradient(step_bits)), grad

        return run(*(tf.convert_to_tensor(source[k]) for k in ("kernel", "bias", "out_kernel", "out_bias")))

    @property
    def hand_written_backprop(self) -> bool:
        """Does ``log p``'s gradient come from :mod:`.backprop` (``manual_backprop`` and an ELU cell without a gate)?"""
        return self.manual_backprop and self.rnn_cell.cell in ("vanilla", "triangle", "closing")

    def backprop_options(self) -> dict:
        """The ordering's and cell's keyword arguments of :func:`.backprop.log_prob_grads`."""
        return {"reverse": self._reverse_above, "wrap": self._wrap_rows, "floor": self.prob_floor,
                "triangle": self._triangle, "close_steps": self._close_steps if self._closing else None}

    def _row_start(self, prev_h, prev_oh, zeros_h, zeros_oh):
        """The horizontal input of a row's first site: zeros, or with ``raster-wrap`` the last site of the
        previous row (``prev_*`` in visiting order; zeros above row 0)."""
        return (prev_h[-1], prev_oh[-1]) if self._wrap_rows else (zeros_h, zeros_oh)

    def _upright(self, aligned, y):
        """The row above, aligned so that entry ``j`` is the site up and to the right, ``(x_j + 1 mod L, y - 1)``,
        of this row's step ``j`` (``aligned``: :meth:`_above`'s alignment, entry ``j`` at ``(x_j, y - 1)``).
        A row visited left to right takes the next entry; in the zigzag's right-to-left rows (odd ``y``), the
        previous one."""
        if not self._reverse_above:
            return tf.roll(aligned, shift=-1, axis=0)
        return tf.roll(aligned, shift=2 * (y % 2) - 1, axis=0)

    def _neighbours(self, prev_h, prev_oh, y):
        """``(above_h, above_oh, upright_h, upright_oh)`` of row ``y`` from the previous row in visiting order
        (the up-right pair is None but for the triangle cell)."""
        above_h, above_oh = self._above(prev_h), self._above(prev_oh)
        if not self._triangle:
            return above_h, above_oh, None, None
        return above_h, above_oh, self._upright(above_h, y), self._upright(above_oh, y)

    def _closing_input(self, first_oh, y):
        """The closing cell's row-0 input of row ``y``, ``[L, *S, 4]`` aligned with its steps: the one-hots of
        ``(x_j, 0)`` and ``(x_j - 1, 0)`` in row ``L - 1``, zeros in every other row (``first_oh``: row 0's
        one-hots in visiting order)."""
        pair = closing_onehots(first_oh, self._close_steps)
        return pair * tf.cast(tf.equal(y, self.L - 1), pair.dtype)

    def _row(self, w, above_h, above_oh, row_src, log_p, start_h, start_oh, sampling: bool, ur_h=None, ur_oh=None,
             close=None):
        """One row of L sites. ``above_*``: the row above, already aligned with this row's steps;
        ``start_*``: the horizontal input of the row's first site (:meth:`_row_start`); ``close``: the closing
        cell's row-0 input (:meth:`_closing_input`).

        This is the model's one source of truth for the vanilla and gated maths; the fast paths that
        mirror it are :meth:`_teacher_forced_vanilla_row`, the flips' steps in :meth:`single_flip_log_probs`
        and :mod:`.backprop` (each is tested against this one).

        Returns ``(h [L, *S, d], onehot [L, *S, 2], bits [L, *S], log_p)``.
        """
        dt = self.rnn_cell.compute_dtype
        floor = self.prob_floor
        h, oh = start_h, start_oh
        hs, ohs, bits = [], [], []
        for j in range(self.L):
            # cell.apply directly: Layer.__call__'s per-site bookkeeping cost ~20% under XLA.
            parts = [h, oh, above_h[j], above_oh[j]] + ([ur_h[j], ur_oh[j]] if ur_h is not None else [])
            if close is not None:
                parts.append(close[j])
            h, logits = self.rnn_cell.apply(tf.concat(parts, axis=-1), w)
            z = logits[..., 1] - logits[..., 0]               # logit of bit 1
            b = tf.cast(row_src[j] < prob_of_one(z, floor), dt) if sampling else row_src[j]
            log_p = log_p + bit_log_prob(z, b, floor)
            oh = tf.stack([1.0 - b, b], axis=-1)
            hs.append(h)
            ohs.append(oh)
            bits.append(b)
        return tf.stack(hs), tf.stack(ohs), tf.stack(bits), log_p

    def _teacher_forced_vanilla_row(self, w, above_h, above_oh, bits, log_p, start_h, start_oh):
        """:meth:`_row` under teacher forcing for the vanilla cell: the same maths, split by what each
        site waits for.

        Why: the sites of a row form a chain only through ``h_horiz``. The row above and this row's
        bits are known when the row starts, so ``W_v [h_up; s_up] + W_s s_horiz + c`` is one matmul
        for the whole row, each site is left with ``ELU(h_horiz W_hh + pre)``, and the conditionals
        are one matmul after the row. At Table I mini-batches (10 samples) a pass is a chain of small
        kernels: a teacher-forced pass of 10 samples at L = 16 went from ~1.3 to ~0.9 ms. Sampling
        gained nothing measurable from the split and the flips' wide batches lost ~7 %, so they keep
        :meth:`_row`; the landscape's stacked weights keep it too.
        """
        d = self.hidden
        kernel = w["kernel"]                                  # [2 (d + 2), d], rows [h, s, h_up, s_up]
        w_hh, w_sh, w_v = kernel[:d], kernel[d:d + 2], kernel[d + 2:]
        onehot = tf.stack([1.0 - bits, bits], axis=-1)                     # [L, B, 2]
        left_oh = tf.concat([start_oh[None], onehot[:-1]], axis=0)
        pre = tf.matmul(tf.concat([above_h, above_oh], axis=-1), w_v) + tf.matmul(left_oh, w_sh) + w["bias"]
        h = tf.nn.elu(tf.matmul(start_h, w_hh) + pre[0]) if self._wrap_rows else tf.nn.elu(pre[0])
        hs = [h]
        for j in range(1, self.L):
            h = tf.nn.elu(tf.matmul(h, w_hh) + pre[j])
            hs.append(h)
        hs = tf.stack(hs)                                                  # [L, B, d]
        u, c = bit_logit_weights(w["out_kernel"], w["out_bias"])
        z = tf.tensordot(hs, u, 1) + c
        log_p = log_p + tf.reduce_sum(bit_log_prob(z, bits, self.prob_floor), axis=0)
        return hs, onehot, bits, log_p

    def _above(self, prev):
        """The previous row (visit order) as seen from this row's steps (reversed when consecutive rows
        run in opposite directions, as in the zigzag order)."""
        return prev[::-1] if self._reverse_above else prev

    def _scan_loop(self, batch, uniforms, given, weights, *, batched: bool, keep: bool = False):
        """The row loop. ``keep``: also return the hidden states ``[L, L, B, d]`` and bits
        ``[L, L, B]`` in visiting order (for the hand-written backward pass)."""
        L, d = self.L, self.hidden
        dt = self.rnn_cell.compute_dtype
        w = self.rnn_cell.weight_dict() if weights is None else weights
        shape = [tf.shape(w["kernel"])[0], batch] if batched else [batch]
        zeros_h = tf.zeros(tf.stack(shape + [d]), dtype=dt)
        zeros_oh = tf.zeros(tf.stack(shape + [2]), dtype=dt)
        source = uniforms if given is None else given

        split = given is not None and not batched and self.rnn_cell.cell == "vanilla"

        closing = self._closing

        def body(y, prev_h, prev_oh, log_p, rows, *extra):
            # extra: (row 0's one-hots,) for the closing cell, then (the kept hidden states,) with ``keep``
            start = self._row_start(prev_h, prev_oh, zeros_h, zeros_oh)
            if split:
                row_h, row_oh, row_bits, log_p = self._teacher_forced_vanilla_row(
                    w, self._above(prev_h), self._above(prev_oh), tf.gather(source, y), log_p, *start)
            else:
                above_h, above_oh, ur_h, ur_oh = self._neighbours(prev_h, prev_oh, y)
                close = self._closing_input(extra[0], y) if closing else None
                row_h, row_oh, row_bits, log_p = self._row(w, above_h, above_oh, tf.gather(source, y), log_p,
                                                           *start, sampling=given is None, ur_h=ur_h, ur_oh=ur_oh,
                                                           close=close)
            first = (tf.where(tf.equal(y, 0), row_oh, extra[0]),) if closing else ()
            kept = (extra[-1].write(y, row_h),) if keep else ()
            return (y + 1, row_h, row_oh, log_p, rows.write(y, row_bits)) + first + kept

        init = (
            tf.constant(0),
            tf.zeros(tf.stack([L] + shape + [d]), dtype=dt),
            tf.zeros(tf.stack([L] + shape + [2]), dtype=dt),
            tf.zeros(tf.stack(shape), dtype=dt),
            tf.TensorArray(dt, size=L, element_shape=None),
        ) + ((tf.zeros(tf.stack([L] + shape + [2]), dtype=dt),) if closing else ()) \
          + ((tf.TensorArray(dt, size=L, element_shape=None),) if keep else ())
        _, _, _, log_p, rows, *hrows = tf.while_loop(
            lambda y, *_: y < L, body, init, maximum_iterations=L, parallel_iterations=1)
        hrows = hrows[1:] if closing else hrows
        step_bits = rows.stack()                                       # [L, L, *S], visiting order
        bits = self.steps_to_sites(step_bits)
        if keep:
            return tf.cast(bits, tf.int32), log_p, hrows[0].stack(), step_bits
        return tf.cast(bits, tf.int32), log_p

    # ------------------------------------------------------------------ orderings
    def sites_to_steps(self, bits):
        """Bits ``[*S, N]`` in site order -> ``[L, L, *S]`` in visiting order (row, step), compute dtype."""
        steps = tf.gather(tf.cast(bits, self.rnn_cell.compute_dtype), self._sites_to_steps, axis=-1)
        rank = len(bits.shape)
        steps = tf.transpose(steps, [rank - 1] + list(range(rank - 1)))
        return tf.reshape(steps, tf.concat([[self.L, self.L], tf.shape(bits)[:-1]], 0))

    def steps_to_sites(self, step_values):
        """``[L, L, *S]`` in visiting order -> ``[*S, N]`` in site order."""
        rank = len(step_values.shape)
        flat = tf.reshape(step_values, tf.concat([[self.n_sites], tf.shape(step_values)[2:]], 0))
        return tf.gather(tf.transpose(flat, list(range(1, rank - 1)) + [0]), self._steps_to_sites, axis=-1)

    # ------------------------------------------------------------------ single-spin flips
    def single_flip_log_probs(self, bits, weights=None, kept=None):
        """``log p`` of every configuration with one spin flipped, for every site (suffix passes; see
        :func:`nm_tf.models.flips.single_flip_log_probs` for the arguments)."""
        from .flips import single_flip_log_probs

        return single_flip_log_probs(self, bits, weights=weights, kept=kept)

    def sample_graph(self, num_samples, seed):
        """Graph-level sampling (no validation). ``seed``: int64 ``[2]`` tensor."""
        u = uniforms_from_seed(tf.stack([self.L, self.L, num_samples]), seed,
                               self.rnn_cell.compute_dtype)
        return self.scan(num_samples, uniforms=u)

    def log_prob_graph(self, bits):
        """Graph-level teacher-forced log p of int bits ``[B, N]`` (no validation)."""
        return self.scan(tf.shape(bits)[0], given=self.sites_to_steps(bits))[1]

    def call(self, inputs):
        """Keras entry point: teacher-forced ``log p`` of bits ``[B, N]``."""
        return self.log_prob_graph(inputs)

    # ------------------------------------------------------------------ public API
    def _fn(self, name):
        if name not in self._fns:
            impl = {"sample": self.sample_graph, "log_prob": self.log_prob_graph}[name]
            # TF counts traces per code object, so every model in a process (each traced once) would add to
            # one count and warn of "retracing" from the fifth model on; a partial is its own key.
            self._fns[name] = tf.function(functools.partial(impl), jit_compile=self.jit_compile,
                                          reduce_retracing=False)
        return self._fns[name]

    def sample(self, num_samples: int, seed=0):
        """Draw configurations autoregressively.

        Args:
            num_samples: number of configurations ``B`` (python int > 0).
            seed: int, or two integers; the same seed gives the same samples.

        Returns:
            ``(spins [B, N] int32 bits in site order, log_prob [B])``; ``log_prob``
            is differentiable with respect to the weights.
        """
        if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral):
            raise UsageError(f"num_samples must be a positive integer, got {num_samples!r}")
        if num_samples <= 0:
            raise UsageError(f"num_samples must be a positive integer, got {num_samples}")
        return self._fn("sample")(int(num_samples), seed_tensor(seed))

    def log_prob(self, spins, encoding: str = "bits"):
        """Teacher-forced ``log p`` of given configurations.

        Args:
            spins: ``[B, N]`` or ``[B, L, L]`` in ``encoding`` (``"bits"`` or ``"spins"``).

        Returns:
            ``[B]`` tensor, differentiable with respect to the weights.
        """
        from ..hamiltonian import as_bits

        if isinstance(spins, tf.Tensor):
            spins = spins.numpy()
        bits = as_bits(spins, self.L, encoding)
        return self._fn("log_prob")(tf.constant(bits, dtype=tf.int32))

    def row_log_probs(self, bits):
        """``log p(row y | rows above)`` of int bits ``[B, N]``: ``[B, L]`` (rows in lattice order; every ordering
        visits the rows one after another, so the sum over rows is ``log p``). No gradient; eager or graph.

        The chain rule row by row tells where a distribution differs from a target: the first row's term holds
        the choice among ground states, the later rows' terms hold the triangle rule."""
        steps = self.sites_to_steps(bits)
        _, _, hs, step_bits = self.scan(tf.shape(bits)[0], given=steps, keep=True)   # [L, L, B, d], [L, L, B]
        u, c = bit_logit_weights(self.rnn_cell.out_kernel, self.rnn_cell.out_bias)
        per_step = bit_log_prob(tf.tensordot(hs, u, 1) + c, step_bits, self.prob_floor)
        return tf.transpose(tf.reduce_sum(per_step, axis=1))   # visiting row y is lattice row y

    def log_psi(self, spins, encoding: str = "bits"):
        """``log psi = log p / 2`` (Eq. 5)."""
        return 0.5 * self.log_prob(spins, encoding)
