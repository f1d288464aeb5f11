"""Single-spin-flip amplitudes by suffix passes: ``log p`` of every configuration with one spin flipped.

The VQA local energy needs ``psi(sigma^i) / psi(sigma)`` for all N flips of every sample. Flipping the spin
visited at step k leaves every conditional before k unchanged, so only the steps after k are re-run (see
:func:`single_flip_log_probs`). The closing cell's last row also reads row 0, so a flip in row 0 changes the
last row's inputs as well: each copy carries its own row 0 into its last row. It mirrors
:meth:`NewmanMooreRNN._row` step by step (one source of truth for the cell's maths: ``cell.apply``); the tests
compare it with full teacher-forced passes of every flip.
"""

from __future__ import annotations

import tensorflow as tf

from .cell import bit_log_prob

__all__ = ["single_flip_log_probs"]


def single_flip_log_probs(model, bits, weights=None, kept=None):
    """``log p`` of every configuration with one spin flipped, for every site.

    Flipping the spin visited at step k leaves every conditional before k unchanged, so only
    the steps after k are re-run: teacher-forced from the hidden states of one unflipped pass,
    ``sum_k (N - k - 1) = N (N - 1) / 2`` site updates per configuration instead of ``N^2``.
    The L flips of lattice row y run together: in row y, copy j (flipped at step j) is
    updated only at the steps after j (a batch growing step by step), then rows y+1..L-1 run
    for all L copies.

    Args:
        bits: int ``[B, N]`` in site order, or ``[P, B, N]`` with ``weights`` carrying a
            leading point axis ``P`` (as in :meth:`scan`).
        weights: None (the layer's own weights) or a stacked weight mapping.
        kept: ``(hs, step_bits)`` of a pass over these very ``bits`` at these weights
            (``scan(..., keep=True)``), reused instead of a teacher-forced pass here.

    Returns:
        ``[*S, N]``: entry ``(..., b, i)`` is ``log p`` of ``bits[..., b, :]`` with site ``i`` flipped.
    """
    L, d = model.L, model.hidden
    closing = model.cell_type == "closing"
    dt = model.rnn_cell.compute_dtype
    w = model.rnn_cell.weight_dict() if weights is None else weights
    batch = tf.shape(bits)[-2]
    rank_s = len(bits.shape) - 1                 # S = [B] or [P, B]
    if kept is None:
        _, _, hs, step_bits = model._scan_loop(batch, None, model.sites_to_steps(bits), weights,
                                               batched=weights is not None, keep=True)
    else:
        hs, step_bits = kept
    logits = tf.matmul(hs, w["out_kernel"]) + w["out_bias"]       # [L, L, *S, 2]
    z = logits[..., 1] - logits[..., 0]
    floor = model.prob_floor
    kept_terms = bit_log_prob(z, step_bits, floor)                  # [L, L, *S]: log p of each site
    flip_terms = bit_log_prob(z, 1.0 - step_bits, floor)            # ... with that site's bit flipped
    prefix = tf.cumsum(tf.reduce_sum(kept_terms, axis=1), axis=0, exclusive=True)   # log p of rows < y
    within = tf.cumsum(kept_terms, axis=1, exclusive=True)          # log p of the row's steps < j
    onehot = tf.stack([1.0 - step_bits, step_bits], -1)
    prev_h = tf.concat([tf.zeros_like(hs[:1]), hs[:-1]], 0)        # the row above row y (zeros above 0)
    prev_oh = tf.concat([tf.zeros_like(onehot[:1]), onehot[:-1]], 0)
    s = tf.shape(step_bits)[2:]
    outer = s[:-1]
    wide = tf.concat([outer, [L * batch]], 0)                       # S': the L copies before the batch axis

    def copies(x, k, lead: int, tail: int):
        """``[*lead, *S, *tail]`` -> ``[*lead, *S[:-1], k, B, *tail]`` (the same for k copies)."""
        x = tf.expand_dims(x, lead + rank_s - 1)
        shape = tf.shape(x)
        return tf.broadcast_to(x, tf.concat([shape[:lead + rank_s - 1], [k], shape[lead + rank_s:]], 0))

    def flat(x, tail: int):
        """``[..., k, B, *tail]`` -> ``[..., k B, *tail]``."""
        shape = tf.shape(x)
        n = len(x.shape)
        return tf.reshape(x, tf.concat([shape[:n - tail - 2], [shape[n - tail - 2] * shape[n - tail - 1]],
                                        shape[n - tail:]], 0))

    def unflat(x, k, tail: int):
        shape = tf.shape(x)
        n = len(x.shape)
        return tf.reshape(x, tf.concat([shape[:n - tail - 1], [k, batch], shape[n - tail:]], 0))

    rows_wide = flat(copies(step_bits, L, 2, 0), 0)                 # [L, L, *S']: rows below y are unflipped
    first_wide = flat(copies(onehot[0], L, 1, 1), 1) if closing else None    # row 0 of every copy, unflipped

    def flip_row(y, out):
        h_row, b_row = tf.gather(hs, y), tf.gather(step_bits, y)    # [L, *S, d], [L, *S]
        above_h, above_oh, ur_h, ur_oh = model._neighbours(tf.gather(prev_h, y), tf.gather(prev_oh, y), y)
        # the closing cell's row-0 input of row y (zeros but in row L - 1), unflipped for a flip in this row
        close_row = model._closing_input(onehot[0], y) if closing else None
        # Row y, step by step: copies j < k were flipped earlier in the row and change here.
        h_new = None
        changed = []                                                # per step: [*S[:-1], k, B] new log terms
        row_h, row_oh = [], []
        for k in range(L):
            if k > 0:
                left_h = copies(h_row[k - 1], 1, 0, 1)
                left_oh = copies(tf.stack([b_row[k - 1], 1.0 - b_row[k - 1]], -1), 1, 0, 1)  # copy k-1: flipped
                if k > 1:
                    left_h = tf.concat([h_new, left_h], axis=rank_s - 1)
                    kept_oh = copies(tf.stack([1.0 - b_row[k - 1], b_row[k - 1]], -1), k - 1, 0, 1)
                    left_oh = tf.concat([kept_oh, left_oh], axis=rank_s - 1)
                parts = [left_h, left_oh, copies(above_h[k], k, 0, 1), copies(above_oh[k], k, 0, 1)]
                if ur_h is not None:
                    parts += [copies(ur_h[k], k, 0, 1), copies(ur_oh[k], k, 0, 1)]
                if closing:
                    parts.append(copies(close_row[k], k, 0, 1))
                x = tf.concat(parts, -1)
                h_flat, lg = model.rnn_cell.apply(flat(x, 1), w)
                h_new = unflat(h_flat, k, 1)
                zk = unflat(lg[..., 1] - lg[..., 0], k, 0)
                changed.append(bit_log_prob(zk, copies(b_row[k], k, 0, 0), floor))
                row_h.append(tf.concat([h_new, copies(h_row[k], L - k, 0, 1)], axis=rank_s - 1))
            else:
                row_h.append(copies(h_row[0], L, 0, 1))
            flipped_here = tf.reshape(tf.one_hot(k, L, dtype=dt), [L, 1])     # copy k has step k flipped
            bit = copies(b_row[k], L, 0, 0)
            bit = bit + flipped_here - 2.0 * bit * flipped_here
            row_oh.append(tf.stack([1.0 - bit, bit], -1))
        # log p of copy j over row y: kept steps < j, the flipped step j, the changed steps > j.
        lp = tf.transpose(tf.gather(within, y) + tf.gather(flip_terms, y),   # [L (j), *S] -> [*S[:-1], j, B]
                          list(range(1, rank_s)) + [0, rank_s])
        lp = lp + tf.reshape(tf.gather(prefix, y), tf.concat([outer, [1], [batch]], 0))
        for k, term in enumerate(changed, start=1):                 # term: copies 0..k-1
            lp = lp + tf.pad(term, [[0, 0]] * (rank_s - 1) + [[0, L - k], [0, 0]])
        # Rows y+1..L-1 for all L copies, from the copies' row y.
        ph = flat(tf.stack(row_h), 1)                               # [L, *S', d]
        poh = flat(tf.stack(row_oh), 1)
        zeros_h = tf.zeros(tf.concat([wide, [d]], 0), dtype=dt)
        zeros_oh = tf.zeros(tf.concat([wide, [2]], 0), dtype=dt)
        # the closing cell's row 0 of each copy: flipped in copy j when the flips are row 0's
        first = tf.where(tf.equal(y, 0), poh, first_wide) if closing else None

        def body(r, ph, poh, lp):
            above_h2, above_oh2, ur_h2, ur_oh2 = model._neighbours(ph, poh, r)
            close = model._closing_input(first, r) if closing else None
            row_h2, row_oh2, _, lp = model._row(w, above_h2, above_oh2, tf.gather(rows_wide, r), lp,
                                                *model._row_start(ph, poh, zeros_h, zeros_oh), sampling=False,
                                                ur_h=ur_h2, ur_oh=ur_oh2, close=close)
            return r + 1, row_h2, row_oh2, lp

        _, _, _, lp_flat = tf.while_loop(lambda r, *_: r < L, body, (y + 1, ph, poh, flat(lp, 0)),
                                         maximum_iterations=L, parallel_iterations=1)
        return y + 1, out.write(y, unflat(lp_flat, L, 0))           # [*S[:-1], L (step j), B]

    _, out = tf.while_loop(lambda y, *_: y < L, flip_row,
                           (tf.constant(0), tf.TensorArray(dt, size=L, element_shape=None)),
                           maximum_iterations=L, parallel_iterations=1)
    flipped = out.stack()                                           # [L (row y), *S[:-1], L (step j), B]
    flipped = tf.transpose(flipped, list(range(1, rank_s)) + [rank_s + 1, 0, rank_s])   # [*S, y, j]
    flipped = tf.reshape(flipped, tf.concat([s, [L * L]], 0))       # [*S, N] in visiting order
    return tf.gather(flipped, model._steps_to_sites, axis=-1)
