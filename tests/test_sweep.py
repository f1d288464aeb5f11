import csv
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from nm_tf.annealing.config import AnnealConfig
from nm_tf.annealing.rundir import RunDir
from nm_tf.sweep import RunTask, SweepSpec, run_tasks
from nm_tf.sweep import write_results

TINY = dict(mode="vca", warmup=20, annealing_steps=20, train_steps=1, hidden=4, samples=20, lr=0.01,
            final_samples=200, T0=2.0, jit=False)


def _spec_file(tmp_path, sweep, base=TINY):
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps({"base": base, "sweep": sweep}))
    return path


def _table(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _run_cli(*args, timeout=600):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "nm_tf", *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


# ------------------------------------------------------------------ spec
def test_spec_takes_the_product_and_names_runs():
    spec = SweepSpec(base=TINY, sweep={"L": [2, 3], "seed": [0, 1], "penalty": [0, 0.05]})
    runs = spec.runs()
    assert len(runs) == 8
    assert runs[0][0] == "L2_seed0_penalty0" and runs[-1][0] == "L3_seed1_penalty0.05"
    assert {cfg.L for _, cfg in runs} == {2, 3} and all(isinstance(cfg, AnnealConfig) for _, cfg in runs)


@pytest.mark.parametrize("base, sweep, message", [
    (TINY, {"Lx": [2]}, "unknown config fields"),
    (TINY, {"L": 2}, "non-empty list"),
    (TINY, {"L": [1]}, "L must be"),
    ({**TINY, "samples": 20}, {"minibatch": [3]}, "minibatch"),
])
def test_bad_spec(base, sweep, message):
    with pytest.raises(ValueError, match=message):
        SweepSpec(base=base, sweep=sweep)


# ------------------------------------------------------------------ local backend
# Default-suite budget (session 26's slower machine): `slow`; the sweep's spec, table and error checks stay in the
# default run.
@pytest.mark.slow
def test_local_sweep_table_reuse_and_failures(tmp_path, capsys):
    from nm_tf.cli import main

    # In this process (the runs still go to spawned workers): a subprocess per call only added TensorFlow's import.
    spec = _spec_file(tmp_path, {"L": [2, 3], "seed": [0]})
    # A run directory already holding another configuration: that run fails, the others go on.
    blocked = RunDir(tmp_path / "sweep" / "runs" / "L3_seed0")
    blocked.write_config(AnnealConfig(**{**TINY, "L": 3, "seed": 7}))
    assert main(["sweep", "--spec", str(spec), "--workdir", str(tmp_path / "sweep"), "--jobs", "2"]) == 1
    rows = {row["run"]: row for row in _table(tmp_path / "sweep" / "results.csv")}
    assert rows["L2_seed0"]["status"] == "ok" and rows["L2_seed0"]["L"] == "2" and rows["L2_seed0"]["seed"] == "0"
    assert -0.5 <= float(rows["L2_seed0"]["energy_per_spin_mean"]) <= 0.5
    assert rows["L3_seed0"]["status"] == "failed" and "different configuration" in rows["L3_seed0"]["error"]
    assert "failed: L3_seed0" in capsys.readouterr().out
    # Free the blocked run: the finished one is reused (same numbers), the other runs now.
    shutil.rmtree(blocked.path)
    assert main(["sweep", "--spec", str(spec), "--workdir", str(tmp_path / "sweep"), "--jobs", "2"]) == 0
    again = {row["run"]: row for row in _table(tmp_path / "sweep" / "results.csv")}
    assert again["L2_seed0"]["energy_per_spin_mean"] == rows["L2_seed0"]["energy_per_spin_mean"]
    assert again["L3_seed0"]["status"] == "ok"
    assert json.loads((tmp_path / "sweep" / "results.json").read_text())[1]["run"] == "L3_seed0"


def test_ray_backend_without_ray_says_how_to_install(tmp_path, monkeypatch):
    import builtins

    from nm_tf.cluster import ray_module

    real = builtins.__import__
    monkeypatch.setattr(builtins, "__import__",
                        lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name)) if name == "ray"
                        else real(name, *a, **k))
    with pytest.raises(ValueError, match=r"pip install 'nm-tf\[cluster\]'"):
        ray_module()


def test_sweep_cli_errors(tmp_path, capsys):
    from nm_tf.cli import main

    assert main(["sweep", "--spec", str(_spec_file(tmp_path, {"L": [2]})), "--workdir", str(tmp_path / "w"),
                 "--address", "x:1"]) == 2
    assert "--address needs --backend ray" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: {}\nsweep: {L: 3}\n")
    assert main(["sweep", "--spec", str(bad), "--workdir", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert "non-empty list" in err and "Traceback" not in err


# ------------------------------------------------------------------ Ray backend
needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed "
                               "(pip install -e '.[cluster]')")


@needs_ray
@pytest.mark.slow   # default-suite budget: a minute or more on 2 cores
def test_ray_sweep_equals_local(tmp_path):
    tasks = [RunTask(f"L{L}", str(tmp_path / b / f"L{L}"), AnnealConfig(**{**TINY, "L": L}).to_dict())
             for b in ("local", "ray") for L in (2, 3)]
    local = run_tasks(tasks[:2], jobs=2, backend="local")
    remote = run_tasks(tasks[2:], jobs=2, backend="ray")
    for a, b in zip(local, remote):
        assert a["status"] == b["status"] == "ok"
        for key in ("energy_per_spin_mean", "ground_state_fraction", "energy_per_spin_min"):
            assert a["summary"][key] == b["summary"][key]


@needs_ray
@pytest.mark.slow
def test_ray_landscape_equals_single_process(tmp_path):
    from nm_tf.annealing.driver import anneal

    wd = tmp_path / "run"
    anneal(AnnealConfig(**{**TINY, "L": 3}), wd)
    args = ["landscape", "--workdir", str(wd), "--points", "6", "--samples", "30", "--quiet"]
    assert _run_cli(*args, "--tag", "one").returncode == 0
    r = _run_cli(*args, "--tag", "many", "--backend", "ray", "--jobs", "2", "--chunk", "5")
    assert r.returncode == 0, r.stderr[-2000:]
    one, many = (np.load(RunDir(wd).landscape_file(t)) for t in ("one", "many"))
    np.testing.assert_array_equal(one["loss"], many["loss"])
    assert one["center_loss"] == many["center_loss"]


@needs_ray
@pytest.mark.slow
def test_ray_retries_a_killed_worker_and_the_run_resumes(tmp_path):
    """kill -9 of the process running one task: Ray retries it, the run resumes from its checkpoint,
    and the table equals that of an undisturbed sweep."""
    base = {**TINY, "warmup": 200, "annealing_steps": 1500, "checkpoint_every": 50}
    spec = _spec_file(tmp_path, {"L": [3], "seed": [0, 1]}, base)
    calm = _run_cli("sweep", "--spec", str(spec), "--workdir", str(tmp_path / "calm"), "--backend", "ray",
                    "--jobs", "2", timeout=900)
    assert calm.returncode == 0, calm.stderr[-2000:]
    proc = subprocess.Popen([sys.executable, "-m", "nm_tf", "sweep", "--spec", str(spec), "--workdir",
                             str(tmp_path / "hit"), "--backend", "ray", "--jobs", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpts = tmp_path / "hit" / "runs" / "L3_seed0" / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and not list(ckpts.glob("ckpt-*.index"))[1:]:
        time.sleep(0.5)
    victims = [int(p) for p in subprocess.run(["pgrep", "-f", "ray::execute"], capture_output=True,
                                              text=True).stdout.split()]
    assert victims, "no Ray worker found"
    os.kill(victims[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-2000:]

    def strip(rows):
        return [{k: v for k, v in r.items() if k not in ("seconds", "wall_seconds")} for r in rows]

    assert strip(_table(tmp_path / "hit" / "results.csv")) == strip(_table(tmp_path / "calm" / "results.csv"))


def test_write_results_columns(tmp_path):
    tasks = [RunTask("a", str(tmp_path / "a"), {"L": 3, "seed": 1})]
    results = [{"name": "a", "status": "ok", "error": "", "seconds": 1.234, "summary": {"energy_per_spin_mean": -0.5}}]
    path = write_results(tmp_path, ["L", "seed"], tasks, results)
    assert _table(path) == [{"run": "a", "L": "3", "seed": "1", "status": "ok", "error": "", "seconds": "1.2",
                             "energy_per_spin_mean": "-0.5"}]


def test_local_ray_start_is_retried_only_after_a_time_out():
    """A local Ray whose daemons time out at start-up is started again (up to three times); any other
    failure, or a third time-out, reaches the caller."""
    from nm_tf.cluster import _start_local

    class FakeRay:
        def __init__(self, failures):
            self.failures, self.inits, self.shutdowns = list(failures), 0, 0

        def init(self, **kw):
            self.inits += 1
            if self.failures:
                raise self.failures.pop(0)

        def shutdown(self):
            self.shutdowns += 1

    ray = FakeRay([Exception("The current node timed out during startup."),
                   RuntimeError("Timed out waiting for file gcs_server_port")])
    _start_local(ray, 2, {})
    assert (ray.inits, ray.shutdowns) == (3, 2)
    with pytest.raises(ValueError, match="bad"):
        _start_local(FakeRay([ValueError("bad")]), 2, {})
    with pytest.raises(Exception, match="timed out"):
        _start_local(FakeRay([Exception("timed out")] * 3), 2, {})


# ------------------------------------------------------------------ ensembles
def test_runs_that_differ_only_in_seed_are_grouped_into_ensembles():
    from nm_tf.sweep.runner import group_into_ensembles

    spec = SweepSpec(base=TINY, sweep={"L": [2, 3], "seed": [0, 1, 2]})
    tasks = [RunTask(name, f"/x/{name}", cfg.to_dict()) for name, cfg in spec.runs()]
    # an ensemble trains SR (each member its own solve), not a symmetry group: those run one per process
    sr = [RunTask(f"sr{s}", f"/x/sr{s}", AnnealConfig(**TINY, seed=s, optimizer="sr").to_dict()) for s in (0, 1)]
    sym = [RunTask(f"sym{s}", f"/x/sym{s}", AnnealConfig(**TINY, seed=s, symmetry="kernel").to_dict())
           for s in (0, 1)]
    units = group_into_ensembles(tasks + sr + sym, 2)
    names = sorted(tuple(t.name for t in u) for u in units)
    assert names == [("L2_seed0", "L2_seed1"), ("L2_seed2",), ("L3_seed0", "L3_seed1"), ("L3_seed2",),
                     ("sr0", "sr1"), ("sym0",), ("sym1",)]
    assert group_into_ensembles(tasks, 1) == [(t,) for t in tasks]


@pytest.mark.slow
def test_sweep_with_ensembles_gives_the_members_their_own_rows(tmp_path):
    spec = _spec_file(tmp_path, {"seed": [0, 1, 2]}, base={**TINY, "L": 2})
    r = _run_cli("sweep", "--spec", str(spec), "--workdir", str(tmp_path / "w"), "--jobs", "1", "--ensemble-max", "2",
                 "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["run"]: row for row in _table(tmp_path / "w" / "results.csv")}
    assert set(rows) == {"seed0", "seed1", "seed2"} and all(row["status"] == "ok" for row in rows.values())
    assert rows["seed0"]["ensemble_size"] == rows["seed1"]["ensemble_size"] == "2"
    assert not rows["seed2"]["ensemble_size"]                      # a unit of one runs as a single run
    assert RunDir(tmp_path / "w" / "runs" / "seed1").config().seed == 1
