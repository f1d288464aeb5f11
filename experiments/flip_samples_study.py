"""What sampling the transverse-field flips costs: bias and extra variance against Lanczos (issue 32 §2)

    python experiments/flip_samples_study.py --preset paper --out ~/nm-paper --jobs 1 [--groups a,b] [--finished-only]
    python experiments/flip_samples_study.py --preset quick                   # minutes: the same groups, short

``--flip-samples K`` replaces VQA's off-diagonal local energy -Gamma sum_i psi(sigma^i)/psi(sigma) (N suffix passes
per sample) by N/K times the sum over K sites drawn uniformly without replacement: unbiased, noisier. Two
questions, at L = 4 and 5 where Lanczos gives e0(Gamma) exactly:

1. The estimator at fixed weights: along the exact (K = N) Table I anneal, kept every 500 annealing steps
   (``--trajectory-every``), draw 2 000 samples and evaluate the local energy exactly and with K = N/4 and N/8:
   the extra variance (variance of the K-site local energy over that of the exact one, exact given the samples:
   ``estimator_rows``) and the bias (20 draws of the sites per sample; zero in expectation, so this checks the
   implementation at Table I weights). A sample whose flips include one large psi ratio gives a skewed estimate
   (usually missed, rarely hit with weight N/K), so |bias| / s.e. near 3 turns up more often than for a normal
   variable; the figure shows the bias relative to the local energy with its standard error.
2. Training with it: Table I VQA with K = N, N/4, N/8 (seed 0): the variational energy's deviation from e0(Gamma)
   along the anneal, the final energy and ground-state fraction, ms per step.

Groups: ``flip_L4`` (K = 16, 4, 2), ``flip_L5`` (K = 25, 6, 3). Writes flip_samples.csv (per run),
flip_samples_estimator.csv (per kept point and K; also kept per exact run in OUT/flip_samples_estimator/ and
reused) and flip_samples.{png,pdf}.
"""

import math

import numpy as np
from common import Experiment, cached, choose_groups, figure, parser, running_median

TRAJECTORY_EVERY = {"paper": 500, "quick": 40}
ESTIMATOR_SAMPLES, DRAWS = 2000, 20
DEVIATION_WINDOW = 201       # annealing rows in the running median of the deviation panel


def flip_counts(L):
    n = L * L
    return [n, max(1, n // 4), max(1, n // 8)]


def groups(ex):
    out = {}
    for L in (4, 5):
        out[f"flip_L{L}"] = []
        for k in flip_counts(L):
            extra = dict(flip_samples=0 if k == L * L else k, exact_points=51,
                         trajectory_every=TRAJECTORY_EVERY[ex.preset] if k == L * L else 0)
            out[f"flip_L{L}"].append((L, k, ex.task(f"flip_vqa_L{L}_K{k}_s0", ex.config("vqa", L, 0, **extra))))
    return out


def estimator_rows(task, L):
    """Bias and extra variance of the K-site local energy at the weights kept along the exact run.

    Given a sample, the K-site term Gamma (N/K) sum_{i in S} r_i (r_i = psi(sigma^i)/psi(sigma), S a uniform
    K-subset) has mean Gamma sum_i r_i and variance Gamma^2 N^2 s^2 (N - K) / (K (N - 1)), s^2 the variance of the
    r_i over the N sites (sampling without replacement). The extra variance is therefore computed exactly from the
    N amplitudes of each sample; the bias is measured from DRAWS draws of the sites per sample, with a standard
    error from those exact variances (the sample spread of a heavy-tailed mean would understate it)."""
    import tensorflow as tf

    from nm_tf.annealing.losses import local_losses, single_flip_log_probs
    from nm_tf.annealing.restore import restore_model
    from nm_tf.exact import quantum_ground_energy
    from nm_tf.landscape.trajectory import load_trajectory

    model, cfg, _ = restore_model(task.workdir, manual_backprop=False)
    steps, T, gamma, weights = load_trajectory(task.workdir)
    n = L * L
    rows = []
    for step, t, g, w in zip(steps, T, gamma, weights):
        if g == 0.0:                             # the transverse term is gone (the warm-up is at Gamma0 > 0)
            continue
        own = model.rnn_cell.weight_dict()
        for name, value in w.items():
            own[name].assign(value.astype(np.float32))
        bits, log_p = model.sample(ESTIMATOR_SAMPLES, seed=[0, int(step)])
        exact, _ = local_losses(model, bits, log_p, t, g, quantum=True, J=cfg.J)
        exact = exact.numpy().astype(np.float64)
        r = np.exp(0.5 * (single_flip_log_probs(model, bits).numpy().astype(np.float64)
                          - log_p.numpy().astype(np.float64)[:, None]))                      # [samples, N]
        spread = r.var(axis=1)                                                              # over the N sites
        e0 = quantum_ground_energy(L, g, cfg.J)
        for k in flip_counts(L)[1:]:
            cond_var = (g * n) ** 2 * spread * (n - k) / (k * (n - 1))                      # per sample, exact
            draws = np.stack([local_losses(model, bits, log_p, t, g, quantum=True, J=cfg.J, flip_samples=k,
                                           flip_seed=tf.constant([d, int(step)], tf.int64))[0].numpy()
                              for d in range(DRAWS)]).astype(np.float64)                    # [draws, samples]
            bias = (draws - exact[None, :]).mean() / n
            sem = math.sqrt(cond_var.sum() / DRAWS) / len(exact) / n
            ratio = (exact.var() + cond_var.mean()) / max(exact.var(), 1e-300)
            rows.append([L, int(step), g, k, exact.mean() / n, e0, bias, sem, ratio])
    return rows


ESTIMATOR_HEADER = ["L", "step", "gamma", "flip_samples", "local_energy_per_spin_exact", "lanczos_e0_per_spin",
                    "bias_per_spin", "bias_sem_per_spin", "variance_ratio"]


def cached_estimator_rows(ex, task, L):
    """:func:`estimator_rows`, kept in OUT/flip_samples_estimator/<run>.json: they take ~30 min per exact run and
    depend only on that finished run (its kept weights) and fixed seeds, so a figure remake reuses them."""
    return cached(ex.out / "flip_samples_estimator" / f"{task.name}.json", lambda: estimator_rows(task, L))


def main():
    args = parser(__doc__, groups=True).parse_args()
    ex = Experiment(args, "flip_samples")
    table = groups(ex)
    chosen = choose_groups(table, args.groups)
    entries = [(g, L, k, t) for g in chosen for (L, k, t) in table[g]]
    summaries = ex.run_all([e[3] for e in entries], partial_ok=True)
    runs, est = [], []
    for group, L, k, task in entries:
        if task.name not in summaries:
            continue
        s = summaries[task.name]
        cfg = ex.rundir(task.name).config()
        steps = cfg.warmup + cfg.annealing_steps * cfg.train_steps
        runs.append([L, k, s["energy_per_spin_mean"], s["ground_state_energy_per_spin"], s["ground_state_fraction"],
                     s["exact_rel_deviation_median"], s["exact_rel_deviation_max"], s["wall_seconds"],
                     1000 * s["wall_seconds"] / steps])
        print(f"{task.name:>22}: E/N {s['energy_per_spin_mean']:+.5f} (e0 {s['ground_state_energy_per_spin']:+.5f}), "
              f"fraction {s['ground_state_fraction']:.4f}, deviation from e0(Gamma) median "
              f"{100 * (s['exact_rel_deviation_median'] or math.nan):.2f}% max "
              f"{100 * (s['exact_rel_deviation_max'] or math.nan):.1f}%, {runs[-1][-1]:.1f} ms/step", flush=True)
        if k == L * L:
            est += cached_estimator_rows(ex, task, L)
    ex.write_csv("", ["L", "flip_samples", "energy_per_spin", "ground_state_energy_per_spin",
                      "ground_state_fraction", "exact_rel_deviation_median", "exact_rel_deviation_max",
                      "wall_seconds", "wall_ms_per_step"], runs)
    ex.write_csv("_estimator", ESTIMATOR_HEADER, est)
    for L in sorted({r[0] for r in est}):
        for k in sorted({r[3] for r in est if r[0] == L}, reverse=True):
            sel = np.array([r[6:9] for r in est if r[0] == L and r[3] == k], dtype=float)
            z = sel[:, 0] / sel[:, 1]
            print(f"L = {L}, K = {k}: bias/s.e. over {len(sel)} kept points: mean {z.mean():+.2f}, max |z| "
                  f"{np.abs(z).max():.2f}; variance ratio median {np.median(sel[:, 2]):.2f}, max {sel[:, 2].max():.2f}")
    _figure(ex, runs, est)
    ex.finish()


def _figure(ex, runs, est):
    from nm_tf.annealing.rundir import RunDir

    fig = figure((13, 3.8))
    ax = fig.add_subplot(1, 3, 1)
    for L in (4, 5):
        for j, k in enumerate(flip_counts(L)):
            name = f"flip_vqa_L{L}_K{k}_s0"
            rd = RunDir(ex.runs / name)
            if not rd.finished:
                continue
            rows = [r for r in rd.history() if r.phase == "anneal" and r.exact_per_spin not in (None, 0.0)]
            g = np.array([float(r.gamma) for r in rows])
            dev = np.array([abs(r.loss_per_spin - r.exact_per_spin) / abs(r.exact_per_spin) for r in rows])
            label = f"L={L}, K={k}" + (" (exact)" if k == L * L else "")
            if len(dev) > 5 * DEVIATION_WINDOW:
                # every step has e0 (L = 4): the per-step deviation is noise-dominated (one mini-batch's loss),
                # its running median shows the trend
                w = DEVIATION_WINDOW // 2
                ax.semilogy(g[::w], running_median(dev, w, stride=w), "-", color=f"C{j}", lw=1.2,
                            label=label + ", running median")
            else:       # e0 at the exact_points only (L = 5): each point one step's deviation
                ax.semilogy(g, dev, "s--", color=f"C{j}", lw=0.6, ms=2.5, label=label + ", single steps")
    ax.set_xlabel("Γ")
    ax.set_ylabel("|E_var − e0(Γ)| / |e0(Γ)|")
    ax.set_title(f"L = 4: running median of {DEVIATION_WINDOW} steps; L = 5: the steps with e0", fontsize=8)
    ax.invert_xaxis()
    ax.legend(fontsize=7)
    for panel, label in enumerate(["variance of K-site E_loc / exact", "bias / |E_loc|  (± 1 s.e.)"]):
        ax = fig.add_subplot(1, 3, panel + 2)
        for L in sorted({r[0] for r in est}):
            for j, k in enumerate(sorted({r[3] for r in est if r[0] == L}, reverse=True)):
                sel = [r for r in est if r[0] == L and r[3] == k]
                g = np.array([r[2] for r in sel]) + (0.04 * j if panel else 0.0)
                style = dict(color=f"C{j + 1}", ms=3, lw=1, label=f"L={L}, K={k}")
                if panel == 0:
                    ax.plot(g, [r[8] for r in sel], "o-" if L == 4 else "s--", **style)
                else:       # relative to the local energy itself: zero within its (heavy-tailed) noise
                    scale = np.abs([r[4] for r in sel])
                    ax.errorbar(g, np.array([r[6] for r in sel]) / scale, yerr=np.array([r[7] for r in sel]) / scale,
                                fmt="o" if L == 4 else "s", capsize=2, ls="none", **style)
        if panel == 1:
            ax.axhline(0.0, color="grey", ls=":", lw=1)
        ax.set_xlabel("Γ (kept weights of the exact run)")
        ax.set_ylabel(label)
        ax.invert_xaxis()
        ax.legend(fontsize=7)
    fig.suptitle("VQA with sampled transverse-field flips (Table I, seed 0)", fontsize=10)
    fig.tight_layout()
    ex.save(fig)


if __name__ == "__main__":
    main()
