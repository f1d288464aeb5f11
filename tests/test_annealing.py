import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from nm_tf.errors import UsageError
from nm_tf.annealing.config import AnnealConfig
from nm_tf.annealing.driver import AnnealRun, NonFiniteError, anneal
from nm_tf.annealing.losses import local_losses, make_train_step
from nm_tf.annealing.schedule import temperature_and_field
from nm_tf.annealing.rundir import RunDir
from nm_tf.models import NewmanMooreRNN

FAST = dict(warmup=200, annealing_steps=200, train_steps=5, hidden=20, lr=0.005, final_samples=5000)


def rows(workdir):
    with open(workdir / "history.csv") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------ schedule & config
def test_linear_schedule_table_one_defaults():
    cfg = AnnealConfig()
    assert (cfg.T_start, cfg.gamma_start, cfg.warmup, cfg.train_steps, cfg.annealing_steps,
            cfg.samples, cfg.hidden, cfg.lr) == (10, 0, 1000, 5, 10000, 100, 40, 1e-4)
    assert AnnealConfig(mode="vqa").gamma_start == 10 and AnnealConfig(mode="vqa").T_start == 0
    small = AnnealConfig(warmup=3, annealing_steps=4, train_steps=2, T0=2.0)
    temps = [temperature_and_field(small, s)[0] for s in range(small.total_steps)]
    assert temps == [2.0] * 3 + [1.5, 1.5, 1.0, 1.0, 0.5, 0.5, 0.0, 0.0]


@pytest.mark.parametrize("kind", ["exponential", "points"])
def test_other_schedules_end_at_zero(kind):
    extra = {"schedule_points": ((0, 1), (0.5, 0.2), (1, 0))} if kind == "points" else {}
    cfg = AnnealConfig(warmup=0, annealing_steps=10, train_steps=1, T0=3.0, schedule=kind, **extra)
    temps = [temperature_and_field(cfg, s)[0] for s in range(cfg.total_steps)]
    assert temps[-1] == 0.0 and all(a >= b for a, b in zip(temps, temps[1:])) and temps[0] < 3.0


@pytest.mark.parametrize("bad", [dict(T0=-1.0), dict(gamma0=-0.1), dict(warmup=-1), dict(samples=0),
                                 dict(L=1), dict(mode="sqa"), dict(lr=0.0), dict(samples=10, minibatch=3),
                                 dict(clip_norm=-1.0), dict(clip_norm=float("inf")),
                                 dict(T0=1e300), dict(mode="vqa", gamma0=2e6)])     # float32 overflow: see config
def test_bad_config(bad):
    with pytest.raises(ValueError):
        AnnealConfig(**bad)


@pytest.mark.parametrize("args, message", [
    (["--L", "1"], "L must"),
    (["--T0", "-2"], "T0 must"),
    (["--mode", "xyz"], "invalid choice"),
    (["--samples", "-4"], "samples must"),
    (["--clip-norm", "nan"], "clip_norm must"),
    (["--config", "/nonexistent.yaml"], "cannot read config"),
])
def test_cli_bad_input(tmp_path, args, message):
    r = subprocess.run([sys.executable, "-m", "nm_tf", "anneal", "--workdir", str(tmp_path / "r"), *args],
                       capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_yaml_config_and_overrides(tmp_path):
    from nm_tf.cli import build_parser
    from nm_tf.cli.anneal import config_from_args

    path = tmp_path / "c.yaml"
    path.write_text("L: 4\nT0: 3.5\nwarmup: 7\n")
    args = build_parser().parse_args(["anneal", "--workdir", "w", "--config", str(path), "--warmup", "9"])
    cfg = config_from_args(args)
    assert (cfg.L, cfg.T0, cfg.warmup) == (4, 3.5, 9)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    args = build_parser().parse_args(["anneal", "--workdir", "w", "--config", str(bad)])
    with pytest.raises(ValueError, match="cannot parse"):
        config_from_args(args)


def test_every_field_is_a_flag_in_one_help_group():
    import dataclasses

    from nm_tf.annealing.config import FIELD_GROUPS
    from nm_tf.cli import build_parser
    from nm_tf.cli.anneal import config_from_args

    grouped = [f for fields in FIELD_GROUPS.values() for f in fields]
    assert sorted(grouped) == sorted(f.name for f in dataclasses.fields(AnnealConfig))     # each exactly once
    args = build_parser().parse_args(["anneal", "--workdir", "w", "--schedule", "points", "--schedule-points",
                                      "0:1,0.5:0.2,1:0", "--jit", "--landscape-crn", "--landscape-orthogonalize",
                                      "false"])
    cfg = config_from_args(args)
    assert cfg.schedule_points == ((0, 1), (0.5, 0.2), (1, 0)) and cfg.jit is True and cfg.landscape_crn is True
    assert cfg.landscape_orthogonalize is False
    with pytest.raises(UsageError, match="t:fraction pairs"):
        build_parser().parse_args(["anneal", "--workdir", "w", "--schedule-points", "0-1,1"])


# ------------------------------------------------------------------ estimator
def test_control_variate_reduces_gradient_variance():
    model = NewmanMooreRNN(3, hidden=8, seed=0, jit_compile=False)
    v = model.trainable_variables

    @tf.function
    def grads(seed):
        with tf.GradientTape(persistent=True) as tape:
            bits, lp = model.sample_graph(20, seed)
            loc, _ = local_losses(model, bits, lp, 1.0, 0.0, quantum=False)
            plain = tf.reduce_mean(loc * lp)
            cv = tf.reduce_mean((loc - tf.reduce_mean(loc)) * lp)
        flat = lambda g: tf.concat([tf.reshape(x, [-1]) for x in g], 0)  # noqa: E731
        return flat(tape.gradient(plain, v)), flat(tape.gradient(cv, v))

    g = [grads(tf.constant([1, s], tf.int64)) for s in range(60)]
    plain = np.stack([a.numpy() for a, _ in g])
    cv = np.stack([b.numpy() for _, b in g])
    assert cv.var(axis=0).sum() < 0.5 * plain.var(axis=0).sum()
    # both estimate the same gradient
    assert np.abs(cv.mean(0) - plain.mean(0)).max() < 5 * plain.std(0).max() / np.sqrt(60)


@pytest.mark.parametrize("jit", [False, True])
def test_non_finite_step_is_skipped(jit):
    """After a step that trained (so Adam carries momentum), a NaN step leaves the weights and Adam's moments and
    step count as they were: with only its gradient zeroed (before session 28), Adam moved the weights along
    the momentum."""
    model = NewmanMooreRNN(2, hidden=4, seed=0, jit_compile=False)
    opt = tf.keras.optimizers.Adam(0.1)
    step = make_train_step(model, opt, 10, jit_compile=jit)
    assert bool(step(tf.constant([0, 0], tf.int64), tf.constant(1.0), tf.constant(0.0))["finite"])
    before = [x.numpy().copy() for x in model.trainable_variables + opt.variables]
    out = step(tf.constant([0, 1], tf.int64), tf.constant(float("nan")), tf.constant(0.0))
    assert not bool(out["finite"])
    for a, b in zip(before, model.trainable_variables + opt.variables):
        np.testing.assert_array_equal(a, b.numpy())
    assert bool(step(tf.constant([0, 2], tf.int64), tf.constant(1.0), tf.constant(0.0))["finite"])
    assert int(opt.iterations.numpy()) == 2 and not np.array_equal(before[0], model.trainable_variables[0].numpy())


@pytest.mark.parametrize("clip_norm", [0.0, 1e-9])
def test_clip_norm_bounds_the_first_adam_step(tmp_path, clip_norm):
    """Adam's first step moves each weight by ~lr whatever the gradient's scale; clipped to a norm far
    below Adam's epsilon (1e-7) the step shrinks to ~lr * clip / epsilon: the run's optimizer clips."""
    cfg = AnnealConfig(L=3, warmup=1, annealing_steps=1, train_steps=1, hidden=4, lr=1e-2, jit=False,
                       clip_norm=clip_norm)
    run = AnnealRun(cfg, tmp_path / "r")
    run.prepare(resume=False)
    before = [v.numpy().copy() for v in run.model.trainable_variables]
    out = run.train_step(tf.constant([0, 0], tf.int64), tf.constant(1.0), tf.constant(0.0))
    assert bool(out["finite"]) and float(out["grad_norm"]) > 1e-3     # logged before clipping
    moved = max(np.abs(v.numpy() - b).max() for v, b in zip(run.model.trainable_variables, before))
    if clip_norm:
        assert moved < 0.02 * cfg.lr
    else:
        assert moved > 0.5 * cfg.lr


def test_run_stops_after_consecutive_bad_steps(tmp_path):
    cfg = AnnealConfig(L=2, warmup=30, annealing_steps=2, train_steps=1, hidden=4, max_bad_steps=3,
                       checkpoint_every=1)
    run = AnnealRun(cfg, tmp_path / "r")
    run.prepare(resume=False)
    real = run.train_step
    calls = {"n": 0}

    def flaky(seed, T, gamma):
        calls["n"] += 1
        out = real(seed, T, gamma)
        if calls["n"] > 12:
            out = dict(out, finite=tf.constant(False))
        return out

    run.train_step = flaky
    with pytest.raises(NonFiniteError, match="3 consecutive"):
        run.run()
    assert run.manager.latest_checkpoint is None or "ckpt" in run.manager.latest_checkpoint
    # the run directory says it diverged (a study tells it from a run still to run)
    record = run.rundir.diverged()
    assert "3 consecutive" in record["message"] and 0 <= record["last_good_step"] <= 12


class _Rows:
    """A logger that keeps what it is given."""

    def __init__(self):
        self.events = []

    def open(self, run, start):
        self.events.append(("open", start))

    def write(self, row, step):
        self.events.append(("row", step, row["phase"], row["annealing_step"]))

    def close(self, summary, step, success=True):
        self.events.append(("close", step, summary is not None, success))


def test_run_in_pieces_with_loggers_and_callbacks_equals_one_run(tmp_path):
    """run(n_steps) pauses at a checkpoint; a callback returning False stops; a new process resumes;
    a custom logger sees every row once; the result equals one uninterrupted run."""
    cfg = AnnealConfig(L=3, warmup=20, annealing_steps=6, train_steps=2, hidden=4, final_samples=200,
                       checkpoint_every=1, jit=False)
    whole = anneal(cfg, tmp_path / "whole")

    rows = _Rows()
    run = AnnealRun(cfg, tmp_path / "pieces")
    assert run.prepare(resume=False) == 0
    with pytest.raises(UsageError, match="n_steps"):
        run.run(n_steps=0)
    assert run.run(n_steps=15, loggers=[rows]) is None          # rounded up to the row ending at step 20
    assert rows.events[-1] == ("close", 20, False, True)

    class StopAtAnnealingStep3:
        def on_row(self, run, row, step):
            return row["annealing_step"] != 3

    assert run.run(loggers=[rows], callbacks=[StopAtAnnealingStep3()]) is None
    assert rows.events[-1] == ("close", 26, False, True)
    before = RunDir(tmp_path / "pieces").wall_at(26)
    assert 0 < before <= run._t_trained
    del run
    resumed = AnnealRun(cfg, tmp_path / "pieces")
    assert resumed.prepare(resume=True) == 26
    summary = resumed.run(loggers=[rows])
    # The seconds of the first process count in the summary (not only those since the resume).
    assert summary["wall_seconds"] > before and summary["wall_seconds_complete"] is True
    assert rows.events[-1] == ("close", cfg.total_steps, True, True)
    written = [e[1] for e in rows.events if e[0] == "row"]
    assert written == sorted(set(written)) and written[-1] == cfg.total_steps
    assert summary["energy_per_spin_mean"] == whole["energy_per_spin_mean"]
    assert summary["ground_state_fraction"] == whole["ground_state_fraction"]
    import csv

    with open(tmp_path / "whole" / "history.csv") as a, open(tmp_path / "pieces" / "history.csv") as b:
        assert list(csv.DictReader(a)) == list(csv.DictReader(b))


# ------------------------------------------------------------------ physics
@pytest.mark.parametrize("L", [pytest.param(3, marks=pytest.mark.slow), 4])     # L = 3 with `-m slow`
def test_vca_tracks_exact_free_energy(tmp_path, L):
    s = anneal(AnnealConfig(mode="vca", L=L, T0=2.0, **FAST), tmp_path / "r")
    hist = [r for r in rows(tmp_path / "r") if r["phase"] == "anneal"]
    dev = [abs(float(r["loss_per_spin"]) - float(r["exact_per_spin"])) / abs(float(r["exact_per_spin"]))
           for r in hist]
    assert max(dev) < 0.05 and np.median(dev) < 0.03, (max(dev), np.median(dev))
    assert s["energy_per_spin_mean"] == pytest.approx(-0.5, abs=0.01)
    assert s["ground_state_in_final_sample"] and s["exact_rel_deviation_max"] < 0.05
    assert (tmp_path / "r" / "tensorboard").is_dir() and any((tmp_path / "r" / "tensorboard").iterdir())


# Default-suite budget (session 27): `slow`; VQA's estimator checks and the closing cell's VQA run
# to the ground state stay in the default run.
@pytest.mark.slow
def test_vqa_tracks_exact_ground_energy(tmp_path):
    s = anneal(AnnealConfig(mode="vqa", L=3, gamma0=2.0, **FAST), tmp_path / "r")
    hist = [r for r in rows(tmp_path / "r") if r["phase"] == "anneal" and r["exact_per_spin"]]
    dev = [abs(float(r["loss_per_spin"]) - float(r["exact_per_spin"])) / abs(float(r["exact_per_spin"]))
           for r in hist]
    assert len(hist) == 200
    assert np.median(dev) < 0.01 and max(dev) < 0.06, (np.median(dev), max(dev))
    assert dev[-1] < 0.01
    assert s["energy_per_spin_mean"] == pytest.approx(-0.5, abs=0.01)


# ------------------------------------------------------------------ run directory
def test_finished_run_is_never_overwritten(tmp_path):
    cfg = AnnealConfig(L=2, warmup=5, annealing_steps=2, train_steps=1, hidden=4, final_samples=10)
    anneal(cfg, tmp_path / "r")
    with pytest.raises(FileExistsError, match="already finished"):
        anneal(cfg, tmp_path / "r")
    with pytest.raises(FileExistsError, match="already finished"):
        anneal(cfg, tmp_path / "r", resume=True)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert {"energy_per_spin_mean", "energy_per_spin_std", "energy_per_spin_min", "ground_state_in_final_sample",
            "energy_per_spin_sem", "residual_energy_per_spin",
            "distinct_ground_states", "degeneracy", "wall_seconds"} <= set(summary)


def _cli(workdir, *extra):
    return [sys.executable, "-m", "nm_tf", "anneal", "--workdir", str(workdir), "--quiet", *extra]


def _with_marked_steps(run, skipped: set, by_qr: set):
    """Let ``run``'s real training steps report the steps in ``skipped`` as non-finite and those in ``by_qr`` as
    solved from QR factors: the driver's book-keeping of both, without having to provoke either."""
    step = run.train_step

    def marked(seed, T, gamma):
        out, s = dict(step(seed, T, gamma)), int(seed[1])
        out["finite"] = tf.constant(s not in skipped)
        out["sr_qr_solves"] = tf.constant(float(s in by_qr))
        return out
    run.train_step = marked


def test_resume_without_recorded_seconds_says_the_wall_time_is_partial(tmp_path):
    cfg = AnnealConfig(L=2, warmup=6, annealing_steps=2, train_steps=1, hidden=4, final_samples=10,
                       checkpoint_every=1, jit=False)
    run = AnnealRun(cfg, tmp_path / "r")
    run.prepare(resume=False)
    assert run.run(n_steps=6) is None
    RunDir(tmp_path / "r").wall_path.unlink()        # as a run started by code from before the record
    RunDir(tmp_path / "r").tallies_path.unlink()     # ... of its seconds and of its step counts
    del run
    resumed = AnnealRun(cfg, tmp_path / "r")
    resumed.prepare(resume=True)
    _with_marked_steps(resumed, skipped={7}, by_qr=set())
    summary = resumed.run()
    assert summary["wall_seconds_complete"] is False and summary["step_counts_complete"] is False
    assert summary["skipped_steps"] == 1 and "sr_qr_solves" not in summary       # Adam: no SR solves to count


def test_step_counts_cover_every_process_of_a_resumed_run(tmp_path):
    """skipped_steps and sr_qr_solves count over the whole anneal, not only since the last resume (until session
    28 a resumed run counted its skipped steps from the resume on); a fork starts with its source's counts. A
    skipped step that ends a history row (here: the warm-up's last, and annealing step 2's only step) leaves out
    that row but not its checkpoint or the pause due there (until session 28 it lost both)."""
    from nm_tf.annealing.restore import fork_run

    cfg = AnnealConfig(L=2, warmup=6, annealing_steps=4, train_steps=1, hidden=4, final_samples=10,
                       checkpoint_every=1, jit=False, optimizer="sr", lr=0.05)
    first = AnnealRun(cfg, tmp_path / "r")
    first.prepare(resume=False)
    _with_marked_steps(first, skipped={5}, by_qr={1, 3})
    assert first.run(n_steps=6) is None
    assert RunDir(tmp_path / "r").tallies_at(6) == {"skipped_steps": 1, "sr_qr_solves": 2}
    fork_run(tmp_path / "r", tmp_path / "fork", 6, cfg)
    del first
    resumed = AnnealRun(cfg, tmp_path / "r")
    assert resumed.prepare(resume=True) == 6
    _with_marked_steps(resumed, skipped={7}, by_qr={8})
    summary = resumed.run()
    assert (summary["skipped_steps"], summary["sr_qr_solves"], summary["step_counts_complete"]) == (2, 3, True)
    assert [r.annealing_step for r in RunDir(tmp_path / "r").history() if r.phase == "anneal"] == [1, 3, 4]
    forked = AnnealRun(cfg, tmp_path / "fork")
    assert forked.prepare(resume=True) == 6
    assert (forked.skipped, forked.sr_qr_solves) == (1, 2)


@pytest.mark.slow   # default-suite budget: a minute or more on 2 cores
def test_resume_after_kill_matches_uninterrupted(tmp_path):
    args = ["--L", "3", "--warmup", "40", "--annealing-steps", "150", "--train-steps", "2", "--hidden", "8",
            "--lr", "0.01", "--T0", "1.5", "--checkpoint-every", "10", "--final-samples", "2000", "--seed", "3"]
    ref = tmp_path / "ref"
    subprocess.run(_cli(ref, *args), check=True, capture_output=True)
    run = tmp_path / "run"
    proc = subprocess.Popen(_cli(run, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        ckpts = list((run / "checkpoints").glob("ckpt-*.index")) if (run / "checkpoints").exists() else []
        if any(int(p.name.split("-")[1].split(".")[0]) >= 100 for p in ckpts):
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "summary.json").exists(), "the run finished before it could be killed"
    r = subprocess.run(_cli(run, "--resume"), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    a = json.loads((ref / "summary.json").read_text())
    b = json.loads((run / "summary.json").read_text())
    for k in ("energy_per_spin_mean", "energy_per_spin_min", "ground_state_fraction", "distinct_ground_states"):
        assert a[k] == pytest.approx(b[k], abs=1e-6), k
    ra, rb = rows(ref), rows(run)
    assert [x["step"] for x in ra] == [x["step"] for x in rb]
    np.testing.assert_allclose([float(x["loss_per_spin"]) for x in ra],
                               [float(x["loss_per_spin"]) for x in rb], atol=1e-5)


@pytest.mark.slow   # default-suite budget: a minute or more on 2 cores
def test_fork_continues_a_run_from_its_checkpoint_under_changed_flags(tmp_path):
    """A fork with nothing changed repeats its source exactly; with --clip-norm it shares the history up to
    the checkpoint and then departs; the network's shape cannot change; bad fork flags get one line."""
    args = ["--L", "3", "--warmup", "20", "--annealing-steps", "6", "--train-steps", "2", "--hidden", "4",
            "--lr", "0.01", "--checkpoint-every", "1", "--final-samples", "500", "--jit", "false"]
    src = tmp_path / "src"
    subprocess.run(_cli(src, *args), check=True, capture_output=True)
    same, clipped = tmp_path / "same", tmp_path / "clipped"
    r = subprocess.run(_cli(same, "--fork-from", str(src), "--fork-step", "28"), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    a, b = (json.loads((d / "summary.json").read_text()) for d in (src, same))
    for k in ("energy_per_spin_mean", "ground_state_fraction", "distinct_ground_states"):
        assert a[k] == b[k], k
    assert rows(src) == rows(same)
    r = subprocess.run(_cli(clipped, "--fork-from", str(src), "--fork-step", "28", "--clip-norm", "1e-9"),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads((clipped / "forked_from.json").read_text())["changed"] == {"clip_norm": 1e-9}
    rs, rc = rows(src), rows(clipped)
    assert [x for x in rs if int(x["step"]) <= 28] == [x for x in rc if int(x["step"]) <= 28]
    assert [x["entropy_per_spin"] for x in rs if int(x["step"]) > 28] != \
           [x["entropy_per_spin"] for x in rc if int(x["step"]) > 28]
    for extra, message in ((["--fork-step", "27"], "no checkpoint 27"), (["--fork-step", "28", "--hidden", "5"],
                           "hidden cannot change"), (["--fork-step", "28", "--resume"], "drop --resume")):
        r = subprocess.run(_cli(tmp_path / "bad", "--fork-from", str(src), *extra), capture_output=True, text=True)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = subprocess.run(_cli(tmp_path / "bad", "--fork-step", "28"), capture_output=True, text=True)
    assert r.returncode == 2 and "go together" in r.stderr


def test_resume_rejects_changed_flags(tmp_path):
    r = subprocess.run(_cli(tmp_path / "x", "--resume", "--L", "4"), capture_output=True, text=True)
    assert r.returncode == 2 and "no run" in r.stderr or "drop" in r.stderr


_DIST = r"""
import json, sys
import tensorflow as tf
cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
from nm_tf.annealing.setup import make_strategy
from nm_tf.annealing.losses import make_train_step
from nm_tf.models import NewmanMooreRNN
out = {}
for replicas, clip in ((1, 0.0), (2, 0.0), (-1, 0.05), (-2, 0.05)):
    strategy = make_strategy(abs(replicas))
    scope = strategy.scope() if strategy else tf.name_scope("x")
    with scope:
        model = NewmanMooreRNN(3, hidden=6, seed=1, jit_compile=False)
        opt = tf.keras.optimizers.SGD(0.01)     # linear in the gradient: Adam would hide a wrong scale
        step = make_train_step(model, opt, 40, jit_compile=False, strategy=strategy, clip_norm=clip)
    for s in range(5):
        m = step(tf.constant([0, s], tf.int64), tf.constant(1.0), tf.constant(0.0))
    out[replicas] = {"w": [v.numpy().ravel().tolist() for v in model.trainable_variables],
                     "loss": float(m["loss"])}
print(json.dumps(out))
"""


def test_two_replicas_match_one_device():
    """The same update on one and two devices (SGD, so a gradient summed twice would show), also with
    the gradient clipped (keys -1, -2: clip_norm 0.05, below the first steps' norms)."""
    r = subprocess.run([sys.executable, "-c", _DIST], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for one, two in (("1", "2"), ("-1", "-2")):
        assert out[one]["loss"] == pytest.approx(out[two]["loss"], abs=1e-5)
        for a, b in zip(out[one]["w"], out[two]["w"]):
            np.testing.assert_allclose(a, b, atol=1e-5)
    assert max(np.abs(np.subtract(a, b)).max() for a, b in zip(out["1"]["w"], out["-1"]["w"])) > 1e-4


# ------------------------------------------------------------------ flip amplitudes and mini-batches
@pytest.mark.parametrize("chunk", [7, 4096])
def test_single_flip_log_probs_match_teacher_forcing(chunk):
    from nm_tf.annealing.losses import single_flip_log_probs

    model = NewmanMooreRNN(3, hidden=8, seed=2, jit_compile=False, dtype="float64")
    bits, _ = model.sample(5, seed=3)
    n = model.n_sites
    expect = np.stack([model.log_prob(np.bitwise_xor(bits.numpy(), np.eye(n, dtype=np.int32)[i])).numpy()
                       for i in range(n)], axis=1)
    static = single_flip_log_probs(model, bits, chunk)                                # static batch: 45 rows
    dynamic = tf.function(lambda b: single_flip_log_probs(model, b, chunk),
                          input_signature=[tf.TensorSpec([None, n], tf.int32)])(bits)
    np.testing.assert_allclose(static.numpy(), expect, atol=1e-12)
    np.testing.assert_allclose(dynamic.numpy(), expect, atol=1e-12)


@pytest.mark.parametrize("quantum", [False, True])
def test_one_minibatch_equals_the_plain_step(quantum):
    """N_b = N_s: the mini-batch step (teacher-forced log p) makes the plain step's update."""
    out, weights = [], []
    for minibatch in (None, 12):
        model = NewmanMooreRNN(3, hidden=8, seed=0, jit_compile=False, dtype="float64")
        step = make_train_step(model, tf.keras.optimizers.Adam(0.01), 12, quantum=quantum, jit_compile=False,
                               minibatch=minibatch)
        out.append(step(tf.constant([0, 4], tf.int64), tf.constant(0.5, tf.float64), tf.constant(0.7, tf.float64)))
        weights.append([v.numpy() for v in model.trainable_variables])
    for key in ("loss", "energy", "energy_std", "entropy", "grad_norm"):
        assert float(out[0][key]) == pytest.approx(float(out[1][key]), abs=1e-10), key
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, atol=1e-10)


def test_minibatch_step_equals_sequential_updates_by_hand():
    """VCA, 3 mini-batches of 4: one update per mini-batch, each scoring its samples at the weights of its
    own update (teacher-forced) equals doing it by hand."""
    from nm_tf.hamiltonian import energy_tf

    L, T, B, b = 3, 0.5, 12, 4
    models = [NewmanMooreRNN(L, hidden=8, seed=0, jit_compile=False, dtype="float64") for _ in range(2)]
    opts = [tf.keras.optimizers.Adam(0.05) for _ in range(2)]
    step = make_train_step(models[0], opts[0], B, jit_compile=False, minibatch=b)
    seed = tf.constant([0, 4], tf.int64)
    out = step(seed, tf.constant(T, tf.float64), tf.constant(0.0, tf.float64))
    model, opt = models[1], opts[1]
    opt.build(model.trainable_variables)
    bits = model.sample_graph(B, seed)[0]
    losses = []
    for k in range(B // b):
        part = bits[k * b:(k + 1) * b]
        with tf.GradientTape() as tape:
            lp = model.log_prob_graph(part)
            loc = tf.stop_gradient(energy_tf(part, L, dtype=tf.float64) + T * lp)
            surrogate = tf.reduce_mean((loc - tf.reduce_mean(loc)) * lp)
        opt.apply(tape.gradient(surrogate, model.trainable_variables), model.trainable_variables)
        losses.append(loc.numpy())
    assert float(out["loss"]) == pytest.approx(np.concatenate(losses).mean() / (L * L), abs=1e-12)
    for a, c in zip(models[0].trainable_variables, model.trainable_variables):
        np.testing.assert_allclose(a.numpy(), c.numpy(), atol=1e-12)


# Default-suite budget (session 26's slower machine): `slow`; test_two_replicas_match_one_device stays in the
# default run.
@pytest.mark.slow
def test_cli_two_replicas_start(tmp_path):
    """The CLI sets TF threads before the strategy asks for two logical CPUs: that must still work."""
    r = subprocess.run(_cli(tmp_path / "r2", "--L", "2", "--warmup", "4", "--annealing-steps", "2", "--train-steps",
                            "1", "--hidden", "4", "--samples", "10", "--final-samples", "20", "--replicas", "2",
                            "--jit", "false"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def test_tensorboard_log_is_laid_out_for_physics(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator as ea

    wd = tmp_path / "tb"
    anneal(AnnealConfig(L=2, warmup=4, annealing_steps=4, train_steps=1, hidden=4, samples=10, final_samples=20,
                        jit=False), wd)
    # two TensorBoard runs named after the run directory: the run and its exact curve under the same tag
    assert sorted(p.name for p in (wd / "tensorboard").iterdir()) == ["tb", "tb_exact"]
    acc = ea.EventAccumulator(str(wd / "tensorboard" / "tb"), size_guidance={ea.TENSORS: 0})
    acc.Reload()
    exact = ea.EventAccumulator(str(wd / "tensorboard" / "tb_exact"), size_guidance={ea.TENSORS: 0})
    exact.Reload()
    tags = set(acc.Tags()["tensors"])
    assert {"loss/per_spin", "physics/energy_per_spin", "physics/ground_state_fraction", "schedule/T",
            "training/grad_norm", "custom_scalars__config__", "_hparams_/experiment", "_hparams_/session_start_info",
            "_hparams_/session_end_info", "zz_final/energy_per_spin", "zz_final/ground_state_fraction"} <= tags
    assert "schedule/Gamma" not in tags                      # VCA anneals T only
    assert set(exact.Tags()["tensors"]) == {"loss/per_spin"}
    from nm_tf.annealing.rundir import RunDir

    history = RunDir(wd).history()
    assert len(acc.Tensors("loss/per_spin")) == len(history)
    assert len(exact.Tensors("loss/per_spin")) == sum(r.exact_per_spin is not None for r in history) >= 4
    # the ground-state fraction of the training samples, logged and kept in the history
    fractions = [r.ground_state_fraction for r in history]
    assert all(f is not None and 0 <= f <= 1 for f in fractions)
    logged = [float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors("physics/ground_state_fraction")]
    np.testing.assert_allclose(logged, fractions, atol=1e-6)
    # a run shorter than histogram_every still has weight histograms: at its first and last annealing steps
    hist_tags = [t for t in tags if t.startswith("weights/")]
    assert hist_tags and len(acc.Tensors(hist_tags[0])) == 2
    from nm_tf.annealing.tensorboard import hparam_names

    names = hparam_names(AnnealConfig())
    assert names[:4] == ["mode", "L", "lr", "seed"]
    assert {"clip_norm", "symmetry", "symmetry_score_draws", "dtype", "replicas", "ordering", "cell"} <= set(names)


def test_snapshots_asked_for_need_a_callback_and_run_anneal_attaches_them(tmp_path):
    from nm_tf.errors import UsageError
    from nm_tf.workflow import instruments

    cfg = AnnealConfig(L=2, warmup=2, annealing_steps=2, train_steps=1, hidden=4, samples=10, final_samples=20,
                       jit=False, landscape=("end",), landscape_points=3, landscape_samples=10)
    with pytest.raises(UsageError, match="no callback takes them"):
        anneal(cfg, tmp_path / "r")
    assert [type(c).__name__ for c in instruments(cfg)] == ["LandscapeCallback"]
    assert instruments(cfg.replace(landscape=())) == []


def test_an_untrained_run_is_called_so():
    from types import SimpleNamespace

    from nm_tf.cli.anneal import describe_summary, untrained_warning

    cfg = AnnealConfig(annealing_steps=200)
    s = {"ground_state_fraction": 3e-5, "n_samples": 100_000, "energy_per_spin_mean": 0.0, "energy_per_spin_sem": 0.01,
         "ground_state_energy_per_spin": -0.5, "distinct_ground_states": 1, "degeneracy": 16}
    assert "(3 of 100000 final samples)" in describe_summary(s) and "skipped" not in describe_summary(s)
    assert "2 non-finite training steps skipped; 5 SR updates solved from QR factors" in describe_summary(
        dict(s, skipped_steps=2, sr_qr_solves=5))
    assert "since the last resume" in describe_summary(dict(s, skipped_steps=2, step_counts_complete=False))
    warn = untrained_warning(s, [SimpleNamespace(entropy_per_spin=0.692)], cfg)
    assert "looks untrained" in warn and "--lr" in warn
    assert "only 3 of 100000" in untrained_warning(s, [SimpleNamespace(entropy_per_spin=0.1)], cfg)
    assert untrained_warning(dict(s, ground_state_fraction=0.99), [SimpleNamespace(entropy_per_spin=0.05)],
                             cfg) is None
    # Every step skipped, so not one history row (a traceback until session 28).
    assert "never trained" in untrained_warning(dict(s, skipped_steps=1201), [], cfg)
    assert "300 of 2000 training steps were non-finite" in untrained_warning(
        dict(s, skipped_steps=300), [SimpleNamespace(entropy_per_spin=0.05)], cfg)
