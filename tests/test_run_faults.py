"""Runs under faults: locks, damaged checkpoints and summaries, edited configs, bad paths, unfinished figures."""

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from nm_tf.annealing.config import AnnealConfig
from nm_tf.annealing.driver import anneal
from nm_tf.annealing.rundir import RunDir
from nm_tf.errors import UsageError

from conftest import run_cli

ARGS = ["--L", "3", "--warmup", "20", "--annealing-steps", "60", "--train-steps", "1", "--hidden", "6",
        "--lr", "0.01", "--T0", "1.5", "--checkpoint-every", "10", "--final-samples", "500", "--jit", "false"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("finished") / "ref"
    r = run_cli("anneal", "--workdir", str(wd), "--quiet", *ARGS)
    assert r.returncode == 0, r.stderr
    return wd


@pytest.fixture
def copy_finished(finished_run, tmp_path):
    """A fresh copy of one finished run per test (one anneal for the whole module)."""
    def make(name="ref"):
        wd = tmp_path / name
        shutil.copytree(finished_run, wd)
        (wd / ".lock").unlink(missing_ok=True)
        return wd
    return make


def _unfinish(wd):
    """Turn a finished run into one killed after its last checkpoint (the final files not yet written)."""
    for name in ("summary.json", "samples_final.npz", "model.weights.h5"):
        (wd / name).unlink()


def test_second_process_on_a_run_in_use_is_refused(tmp_path):
    wd = tmp_path / "busy"
    long_args = [a if a != "60" else "3000" for a in ARGS]
    proc = subprocess.Popen([sys.executable, "-m", "nm_tf", "anneal", "--workdir", str(wd), "--quiet", *long_args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (wd / "config.json").exists():
            time.sleep(0.1)
        time.sleep(1.0)
        r = run_cli("anneal", "--workdir", str(wd), "--resume", "--quiet")
        assert r.returncode == 2 and "in use by process" in r.stderr and "Traceback" not in r.stderr
    finally:
        proc.kill()
        proc.wait()


def test_unreadable_latest_checkpoint_falls_back_to_an_older_one(tmp_path, copy_finished):
    ref = copy_finished()
    expected = json.loads((ref / "summary.json").read_text())
    _unfinish(ref)
    latest = max((ref / "checkpoints").glob("ckpt-*.data-*"), key=lambda p: int(p.name.split("-")[1].split(".")[0]))
    latest.write_bytes(latest.read_bytes()[:40])               # truncated
    r = run_cli("anneal", "--workdir", str(ref), "--resume", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "unreadable" in r.stderr and "trying an older one" in r.stderr
    got = json.loads((ref / "summary.json").read_text())
    assert got["energy_per_spin_mean"] == pytest.approx(expected["energy_per_spin_mean"], abs=1e-6)


def test_garbage_checkpoint_state_does_not_restart_from_zero(tmp_path, copy_finished):
    ref = copy_finished()
    rows_before = RunDir(ref).history()
    _unfinish(ref)
    (ref / "checkpoints" / "checkpoint").write_text("\x00\x01 not a checkpoint state {{{")
    r = run_cli("anneal", "--workdir", str(ref), "--resume", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "not a checkpoint state file" in r.stderr
    assert [x.step for x in RunDir(ref).history()] == [x.step for x in rows_before]


def test_every_checkpoint_unreadable_is_one_line(tmp_path, copy_finished):
    ref = copy_finished()
    _unfinish(ref)
    for p in (ref / "checkpoints").glob("ckpt-*.data-*"):
        p.write_bytes(b"garbage")
    r = run_cli("anneal", "--workdir", str(ref), "--resume", "--quiet")
    assert r.returncode == 1 and "none of the checkpoints" in r.stderr and "Traceback" not in r.stderr


def test_half_written_summary_is_not_finished_and_resume_completes(tmp_path, copy_finished):
    ref = copy_finished()
    expected = json.loads((ref / "summary.json").read_text())
    (ref / "summary.json").write_text("")                      # a 0-byte summary (disk full, old versions)
    assert not RunDir(ref).finished
    r = run_cli("anneal", "--workdir", str(ref), "--resume", "--quiet")
    assert r.returncode == 0, r.stderr
    assert json.loads((ref / "summary.json").read_text())["energy_per_spin_mean"] == expected["energy_per_spin_mean"]


def test_leftover_checkpoint_temp_folder_is_removed(tmp_path, copy_finished):
    ref = copy_finished()
    _unfinish(ref)
    (ref / "checkpoints" / "ckpt-61_temp").mkdir()
    assert run_cli("anneal", "--workdir", str(ref), "--resume", "--quiet").returncode == 0
    assert not list((ref / "checkpoints").glob("*_temp*"))


def test_edited_config_is_detected_on_resume(tmp_path, copy_finished):
    ref = copy_finished()
    _unfinish(ref)
    cfg = json.loads((ref / "config.json").read_text())
    cfg["L"] = 4
    (ref / "config.json").write_text(json.dumps(cfg))
    r = run_cli("anneal", "--workdir", str(ref), "--resume", "--quiet")
    assert r.returncode == 2 and "was edited after the run started (L)" in r.stderr


def test_a_float_off_in_its_last_bits_is_the_same_configuration_and_the_resume_keeps_the_stored_one(copy_finished):
    """A value derived on another CPU (the coverage study's T_final) may differ in its last bit: the run is reused
    and resumed with its own stored value, to the last bit; a real difference is still refused."""
    from nm_tf.annealing.driver import anneal_or_reuse

    ref = copy_finished()
    expected = json.loads((ref / "summary.json").read_text())
    _unfinish(ref)
    stored = RunDir(ref).config()
    nudged = stored.replace(T0=float(np.nextafter(stored.T0, 2.0)))
    assert nudged.T0 != stored.T0 and RunDir(ref).differences(nudged) == []
    with pytest.raises(UsageError, match=r"different configuration \(T0\)"):
        anneal_or_reuse(stored.replace(T0=stored.T0 * 1.001), ref)
    summary = anneal_or_reuse(nudged, ref)
    assert json.loads((ref / "config.json").read_text())["T0"] == stored.T0
    assert summary["energy_per_spin_mean"] == expected["energy_per_spin_mean"]


@pytest.mark.parametrize("command", [
    ["anneal", "--workdir", "{blocker}/run", "--quiet", *ARGS],
    ["modes", "--workdir", "{blocker}/run"],
    ["landscape", "--workdir", "{blocker}/run", "--points", "3"],
    ["export", "--workdir", "{ref}", "--model-dir", "{blocker}/models", "--name", "x"],
])
def test_unusable_paths_are_one_line(tmp_path, command, copy_finished):
    blocker = tmp_path / "plain_file"
    blocker.write_text("not a folder")
    ref = tmp_path / "ref"
    if "{ref}" in " ".join(command):
        ref = copy_finished()
    r = run_cli(*[c.format(blocker=blocker, ref=ref) for c in command])
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_snapshot_killed_before_its_figures_is_finished_on_resume(tmp_path):
    from nm_tf.landscape.plots import figure_paths
    from nm_tf.landscape.snapshots import LandscapeCallback, snapshot_path

    cfg = AnnealConfig(L=3, warmup=10, annealing_steps=10, train_steps=1, hidden=4, final_samples=100, jit=False,
                       landscape=("end",), landscape_points=3, landscape_samples=20)
    wd = tmp_path / "run"
    anneal(cfg, wd, callbacks=[LandscapeCallback.from_config(cfg)])
    pngs = figure_paths(snapshot_path(wd, "end").with_suffix(""))
    for p in pngs:
        p.unlink()
    events = len(list((wd / "tensorboard" / "run").glob("events*")))

    from nm_tf.annealing.callbacks import Snapshot
    from nm_tf.landscape.plots import log_images

    event = Snapshot(tag="end", step=20, T=0.0, gamma=0.0, model=None, cfg=cfg, workdir=wd,
                     log_images=lambda paths, step: log_images(wd / "tensorboard" / "run", paths, step))
    cb = LandscapeCallback.from_config(cfg)
    assert cb.pending(wd, "end")
    cb.on_snapshot(event)
    assert all(p.exists() for p in pngs) and not cb.pending(wd, "end")
    assert len(list((wd / "tensorboard" / "run").glob("events*"))) > events
    np.load(snapshot_path(wd, "end"))   # the numbers were left as they were


def test_checkpoint_write_failure_is_one_line_and_nothing_is_marked_finished(tmp_path, monkeypatch):
    import tensorflow as tf

    def disk_full(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", disk_full)
    with pytest.raises(OSError, match="cannot write checkpoint .*No space left on device.*--resume"):
        anneal(AnnealConfig(L=2, warmup=4, annealing_steps=2, train_steps=1, hidden=4, samples=10, final_samples=20,
                            jit=False), tmp_path / "r")
    assert not RunDir(tmp_path / "r").finished


def _carry(src, dest, files):
    """What another machine receives: only ``files`` (paths inside ``src``), at the same places."""
    for f in files:
        target = dest / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)


def test_portable_files_of_an_unfinished_run_resume_it_exactly(tmp_path, copy_finished):
    ref = copy_finished()
    expected = json.loads((ref / "summary.json").read_text())
    _unfinish(ref)
    files = RunDir(ref).portable_files()
    names = {f.relative_to(ref).as_posix() for f in files}
    assert {"config.json", "history.csv", "checkpoints/checkpoint"} <= names
    assert not any(n.startswith("tensorboard") for n in names)
    moved = tmp_path / "elsewhere"
    _carry(ref, moved, files)
    r = run_cli("anneal", "--workdir", str(moved), "--resume", "--quiet")
    assert r.returncode == 0, r.stderr
    got = json.loads((moved / "summary.json").read_text())
    for key in ("energy_per_spin_mean", "ground_state_fraction", "distinct_ground_states"):
        assert got[key] == expected[key], key


def test_portable_files_of_a_finished_run_sample_and_score_like_the_original(tmp_path, finished_run):
    from nm_tf.modes.sources import samples_from_run

    files = RunDir(finished_run).portable_files()
    assert sorted(f.name for f in files) == ["config.json", "history.csv", "model.weights.h5", "summary.json"]
    moved = tmp_path / "elsewhere"
    _carry(finished_run, moved, files)
    assert RunDir(moved).finished
    a, _, _, lp_a = samples_from_run(finished_run, 300, seed=4, with_log_prob=True)
    b, _, _, lp_b = samples_from_run(moved, 300, seed=4, with_log_prob=True)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(lp_a(a), lp_b(b))


def test_a_finished_run_without_its_weights_is_not_portable(tmp_path, copy_finished):
    ref = copy_finished()
    (ref / "model.weights.h5").unlink()
    with pytest.raises(UsageError, match="lacks model.weights.h5"):
        RunDir(ref).portable_files()


def test_pool_script_carries_finished_and_unfinished_runs_to_a_new_pool(tmp_path, copy_finished):
    """experiments/pool.py save, then restore into an empty pool: the finished run is reused, the other resumes."""
    script = os.path.join(os.path.dirname(__file__), os.pardir, "experiments", "pool.py")
    old_pool, committed, new_pool = tmp_path / "old", tmp_path / "committed", tmp_path / "new"
    done, busy = copy_finished("done"), copy_finished("busy")
    expected = json.loads((busy / "summary.json").read_text())
    _unfinish(busy)
    (old_pool / "runs").mkdir(parents=True)
    shutil.move(done, old_pool / "runs" / "done")
    shutil.move(busy, old_pool / "runs" / "busy")
    fits = old_pool / "representability"           # a finished maximum-likelihood fit and one in progress
    for name, files in (("done_fit", ("fit.json", "model.weights.h5", "history.csv")),
                        ("busy_fit", ("checkpoints/checkpoint", "checkpoints/fit_state.json"))):
        (fits / name / "checkpoints").mkdir(parents=True)
        for f in files:
            (fits / name / f).write_text(f"{name} {f}\n")
    for action, pool in (("save", old_pool), ("restore", new_pool)):
        r = subprocess.run([sys.executable, script, action, "--out", str(pool), "--committed", str(committed)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    assert (committed / "inflight" / "busy.tar.gz").exists()
    archives = {p: p.read_bytes() for p in (committed / "inflight").iterdir()}
    assert len(archives) == 2
    r = subprocess.run([sys.executable, script, "save", "--out", str(old_pool), "--committed", str(committed)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert {p: p.read_bytes() for p in (committed / "inflight").iterdir()} == archives   # nothing changed: same bytes
    # a table computed from a committed run's trajectory after it finished (the curvature, row by row) is saved
    table = old_pool / "runs" / "done" / "trajectory" / "curvature_trajectory.csv"
    table.parent.mkdir(exist_ok=True)
    for rows in ("step,top_1\n0,1.5\n", "step,top_1\n0,1.5\n10,2.5\n"):
        table.write_text(rows)
        r = subprocess.run([sys.executable, script, "save", "--out", str(old_pool), "--committed", str(committed)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert (committed / "runs" / "done" / "trajectory" / "curvature_trajectory.csv").read_text() == rows
    assert (committed / "runs" / "done" / "history.csv.gz").exists()        # histories are committed gzipped
    assert RunDir(new_pool / "runs" / "done").finished and not RunDir(new_pool / "runs" / "busy").finished
    assert RunDir(new_pool / "runs" / "done").history() == RunDir(old_pool / "runs" / "done").history()
    assert (committed / "representability" / "done_fit" / "history.csv.gz").exists()
    assert sorted(p.name for p in (new_pool / "representability").iterdir()) == ["busy_fit", "done_fit"]
    # the overshoot study's caches: finished fits (without their checkpoints) and tables both ways; a thermal fit
    # in progress travels as its checkpoints' archive, which goes once the fit has finished
    for name in ("done_T0.3", "busy_T0.2"):
        (old_pool / "overshoot_fits" / name / "checkpoints").mkdir(parents=True)
        (old_pool / "overshoot_fits" / name / "checkpoints" / "fit_state.json").write_text(name)
    (old_pool / "overshoot_fits" / "done_T0.3" / "fit.json").write_text("{}")
    (old_pool / "overshoot_rows").mkdir()
    (old_pool / "overshoot_rows" / "done.json").write_text("[1]")
    for method in ("sa", "pt"):          # the baselines of stats_success.py and pt_reference.py
        (old_pool / f"{method}_runs").mkdir()
        (old_pool / f"{method}_runs" / "L16_s0_steps51000.json").write_text(method)
    for action, pool in (("save", old_pool), ("restore", new_pool)):
        r = subprocess.run([sys.executable, script, action, "--out", str(pool), "--committed", str(committed)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    assert (new_pool / "overshoot_fits" / "done_T0.3" / "fit.json").read_text() == "{}"
    assert not (committed / "overshoot_fits" / "done_T0.3" / "checkpoints").exists()
    assert not (committed / "overshoot_fits" / "busy_T0.2").exists()
    busy_archive = committed / "inflight" / "overshoot_fits__busy_T0.2.tar.gz"
    assert busy_archive.exists()
    assert (new_pool / "overshoot_fits" / "busy_T0.2" / "checkpoints" / "fit_state.json").read_text() == "busy_T0.2"
    assert not (new_pool / "overshoot_fits" / "busy_T0.2" / "fit.json").exists()
    assert not (new_pool / "runs" / "overshoot_fits__busy_T0.2").exists()      # not taken for a run in flight
    (old_pool / "overshoot_fits" / "busy_T0.2" / "fit.json").write_text("{}")
    r = subprocess.run([sys.executable, script, "save", "--out", str(old_pool), "--committed", str(committed)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not busy_archive.exists() and (committed / "overshoot_fits" / "busy_T0.2" / "fit.json").exists()
    assert (new_pool / "overshoot_rows" / "done.json").read_text() == "[1]"
    assert [(new_pool / f"{m}_runs" / "L16_s0_steps51000.json").read_text() for m in ("sa", "pt")] == ["sa", "pt"]
    # a table a study extends point by point: saved when the pool's is longer, restored where the pool has none,
    # and a shorter copy never replaces a longer one
    table, longer, shorter = "trainability_curvature_heldout.csv", "run,step\na,1\na,2\n", "run,step\na,1\n"
    (old_pool / table).write_text(longer)
    (committed / table).write_text(shorter)

    def pool_script(action, pool):
        r = subprocess.run([sys.executable, script, action, "--out", str(pool), "--committed", str(committed)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr

    pool_script("save", old_pool)
    assert (committed / table).read_text() == longer
    pool_script("restore", new_pool)
    assert (new_pool / table).read_text() == longer
    (new_pool / table).write_text(shorter)
    pool_script("save", new_pool)
    assert (committed / table).read_text() == longer
    # fig5's rescans: a partial grid travels and is refreshed; once the scan is done only the grid remains
    scans = old_pool / "fig5_scans"
    scans.mkdir()
    for grid, action in (("a.partial.npz", "save"), ("a.partial.npz", "save"), ("a.npz", "save")):
        (scans / grid).write_text(f"{grid} {len(list(scans.iterdir()))}")
        if grid == "a.npz":
            (scans / "a.partial.npz").unlink()
        r = subprocess.run([sys.executable, script, action, "--out", str(old_pool), "--committed", str(committed)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert sorted(p.name for p in (committed / "fig5_scans").iterdir()) == [grid]
        assert (committed / "fig5_scans" / grid).read_text() == (scans / grid).read_text()
    # the snap-back study's scans: each finished grid both ways, file by file; a partial one stays behind
    run_scans = old_pool / "snapback_landscapes" / "curv_s0"
    run_scans.mkdir(parents=True)
    (run_scans / "landscape_traj5.npz").write_text("grid")
    (run_scans / "landscape_traj9.partial.npz").write_text("half")
    pool_script("save", old_pool)
    pool_script("restore", new_pool)
    for pool in (committed, new_pool):
        assert [p.name for p in (pool / "snapback_landscapes" / "curv_s0").iterdir()] == ["landscape_traj5.npz"]
        assert (pool / "snapback_landscapes" / "curv_s0" / "landscape_traj5.npz").read_text() == "grid"
    assert not (new_pool / "representability" / "busy_fit" / "fit.json").exists()
    assert (new_pool / "representability" / "busy_fit" / "checkpoints" / "fit_state.json").read_text() == \
        "busy_fit checkpoints/fit_state.json\n"
    for f in ("fit.json", "model.weights.h5", "history.csv"):
        assert (new_pool / "representability" / "done_fit" / f).read_text() == f"done_fit {f}\n"
    r = run_cli("anneal", "--workdir", str(new_pool / "runs" / "busy"), "--resume", "--quiet")
    assert r.returncode == 0, r.stderr
    assert json.loads((new_pool / "runs" / "busy" / "summary.json").read_text())["energy_per_spin_mean"] == \
        expected["energy_per_spin_mean"]


def _one_line(r, code, message):
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    return r.returncode == code and "Traceback" not in r.stderr and len(lines) == 1 and message in lines[0]


def _bad_step(path):
    lines = path.read_text().splitlines()
    lines[2] = "x" + lines[2]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(b"step,phase\n\xff\xfe\x00garbage\n"), "is damaged"),
    (_bad_step, "is not a non-negative integer"),
    (lambda p: p.unlink(), "cannot be rebuilt"),
], ids=["not-utf8", "bad-step", "deleted"])
def test_damaged_history_is_refused_on_resume(copy_finished, damage, message):
    ref = copy_finished()
    _unfinish(ref)
    damage(ref / "history.csv")
    r = run_cli("anneal", "--workdir", str(ref), "--resume", "--quiet")
    assert _one_line(r, 1, message), r.stderr[-2000:]
    assert not (ref / "summary.json").exists()


@pytest.mark.parametrize("command", [
    ["landscape", "--workdir", "{ref}", "--points", "3"],
    ["modes", "--workdir", "{ref}", "--samples", "10", "--seed", "0"],
    ["export", "--workdir", "{ref}", "--model-dir", "{ref}/../models", "--name", "x", "--allow-unfinished"],
], ids=["landscape", "modes", "export"])
def test_unreadable_checkpoints_are_one_line_for_every_tool(copy_finished, command):
    ref = copy_finished()
    _unfinish(ref)
    for p in (ref / "checkpoints").glob("ckpt-*.data-*"):
        p.write_bytes(b"garbage")
    r = run_cli(*[c.format(ref=ref) for c in command])
    assert _one_line(r, 1, "none of the checkpoints"), r.stderr[-2000:]


def test_damaged_final_samples_and_savedmodel_are_one_line(copy_finished, tmp_path):
    ref = copy_finished()
    (ref / "samples_final.npz").write_bytes(b"garbage")
    r = run_cli("modes", "--workdir", str(ref), "--samples", "10")
    assert _one_line(r, 1, "is damaged"), r.stderr[-2000:]
    sm = tmp_path / "sm"
    sm.mkdir()
    (sm / "saved_model.pb").write_bytes(b"garbage")
    r = run_cli("modes", "--savedmodel", str(sm), "--samples", "10")
    assert _one_line(r, 1, "cannot load the SavedModel"), r.stderr[-2000:]


def test_export_of_an_unfinished_run_needs_a_flag_and_says_so(copy_finished, tmp_path):
    ref = copy_finished()
    _unfinish(ref)
    r = run_cli("export", "--workdir", str(ref), "--model-dir", str(tmp_path / "m"), "--name", "x")
    assert _one_line(r, 2, "has not finished; pass --allow-unfinished"), r.stderr[-2000:]
    r = run_cli("export", "--workdir", str(ref), "--model-dir", str(tmp_path / "m"), "--name", "x",
                "--allow-unfinished", "--no-xla")
    assert r.returncode == 0, r.stderr[-2000:]
    meta = json.loads((tmp_path / "m" / "x" / "1" / "assets.extra" / "nm_tf.json").read_text())
    assert meta["finished"] is False and meta["step"] == 80 and meta["run"] == "ref"
    assert str(tmp_path) not in json.dumps(meta)


def test_pool_retire_reruns_a_committed_run_without_history_and_save_replaces_it(tmp_path, copy_finished):
    """A committed run kept before histories were: ``retire`` moves the pool's copy aside, the rerun (same
    configuration) replaces the committed one on ``save``, and the earlier summary stays beside it when it differs."""
    script = os.path.join(os.path.dirname(__file__), os.pardir, "experiments", "pool.py")
    pool, committed = tmp_path / "pool", tmp_path / "committed"
    (pool / "runs").mkdir(parents=True)
    shutil.move(copy_finished("old"), pool / "runs" / "old")

    def pool_cmd(*args):
        r = subprocess.run([sys.executable, script, *args, "--out", str(pool), "--committed", str(committed)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    pool_cmd("save")
    (committed / "runs" / "old" / "history.csv.gz").unlink()                  # as kept before histories were
    (pool / "runs" / "old" / "history.csv").unlink()
    summary = json.loads((committed / "runs" / "old" / "summary.json").read_text())
    summary["energy_per_spin_mean"] = 1.0                                   # an earlier trajectory's number
    (committed / "runs" / "old" / "summary.json").write_text(json.dumps(summary))
    assert "1 runs retired" in pool_cmd("retire")
    assert (pool / "retired" / "old").is_dir() and not (pool / "runs" / "old").exists()
    pool_cmd("restore")                                          # a restore keeps a retired run retired
    assert not (pool / "runs" / "old").exists()
    cfg = RunDir(pool / "retired" / "old").config()
    from nm_tf.annealing.driver import anneal

    rerun = pool / "runs" / "old"
    anneal(cfg, rerun)                                                       # the figure script's rerun
    (rerun / "summary.json").rename(rerun / "summary.hold")                  # as if still in flight
    assert "in flight; left in place" in pool_cmd("retire", "--only", "old")   # a second retire spares the rerun
    pool_cmd("save")                                          # archives the rerun in flight; then a new machine:
    fresh = tmp_path / "fresh"
    r = subprocess.run([sys.executable, script, "restore", "--out", str(fresh), "--committed", str(committed)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "old: run in flight restored" in r.stdout                         # the rerun, not the committed copy
    restored = RunDir(fresh / "runs" / "old")
    assert not restored.finished and restored.history_path.exists()         # resumes; the committed copy has none
    (rerun / "summary.hold").rename(rerun / "summary.json")
    assert "save commits it" in pool_cmd("retire", "--only", "old") and (rerun / "summary.json").exists()
    out = pool_cmd("save")
    assert "now replaced" in out and (committed / "runs" / "old" / "history.csv.gz").exists()
    assert json.loads((committed / "runs" / "old" / "summary.json").read_text())["energy_per_spin_mean"] != 1.0
    kept = list((committed / "runs" / "old").glob("summary.*.json"))               # the earlier one, beside it
    assert len(kept) == 1 and json.loads(kept[0].read_text())["energy_per_spin_mean"] == 1.0


def test_pool_rerun_takes_table_one_runs_only(tmp_path):
    script = os.path.join(os.path.dirname(__file__), os.pardir, "experiments", "pool.py")
    r = subprocess.run([sys.executable, script, "rerun", "--only", "vca_L3_s0,coverage_L6_s1", "--out",
                        str(tmp_path), "--committed", str(tmp_path / "c")], capture_output=True, text=True, timeout=60)
    assert _one_line(r, 1, "not one: coverage_L6_s1"), r.stderr


def test_a_finished_runs_landscape_scans_travel_and_reach_a_committed_copy(tmp_path, copy_finished):
    """Landscape snapshots are figure inputs (hours of scans): a finished run carries its npz files (not the PNGs),
    and a save fills them into a committed copy that lacks them."""
    script = os.path.join(os.path.dirname(__file__), os.pardir, "experiments", "pool.py")
    pool, committed = tmp_path / "pool", tmp_path / "committed"
    (pool / "runs").mkdir(parents=True)
    run = shutil.move(copy_finished("scanned"), pool / "runs" / "scanned")
    land = RunDir(run).landscape
    land.mkdir(exist_ok=True)
    np.savez(land / "landscape_end.npz", loss=np.zeros((3, 3)))
    (land / "landscape_end_2d.png").write_bytes(b"png")
    names = {p.name for p in RunDir(run).portable_files()}
    assert "landscape_end.npz" in names and "landscape_end_2d.png" not in names

    def save():
        r = subprocess.run([sys.executable, script, "save", "--out", str(pool), "--committed", str(committed)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr

    save()
    dest = committed / "runs" / "scanned" / "landscape" / "landscape_end.npz"
    assert dest.exists()
    dest.unlink()                                    # a copy committed before scans travelled
    save()
    assert dest.exists()


def test_save_packs_a_run_whose_checkpoint_rotates_while_it_is_packed(tmp_path, copy_finished, monkeypatch):
    """A run in flight may replace a checkpoint between the listing of its files and their packing: the save
    lists them again instead of stopping."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "experiments"))
    import pool as pool_script

    pool, committed = tmp_path / "pool", tmp_path / "committed"
    (pool / "runs").mkdir(parents=True)
    run = shutil.move(copy_finished("busy"), pool / "runs" / "busy")
    _unfinish(run)
    real, calls = RunDir.portable_files, []

    def rotating(self):
        calls.append(1)
        files = real(self)
        return files + [self.path / "checkpoints" / "ckpt-gone.data"] if len(calls) == 1 else files

    monkeypatch.setattr(RunDir, "portable_files", rotating)
    monkeypatch.setattr(pool_script.time, "sleep", lambda s: None)
    pool_script.save(pool, committed)
    assert len(calls) == 2 and (committed / "inflight" / "busy.tar.gz").exists()
