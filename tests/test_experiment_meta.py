"""Each output of an experiment script keeps its own provenance record (experiments/common.py, trainability.py)."""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))

import trainability  # noqa: E402
from common import Experiment  # noqa: E402


def _finished_run(pool: Path, name: str, commit: str):
    (pool / "runs" / name).mkdir(parents=True)
    (pool / "runs" / name / "config.json").write_text("{}")
    (pool / "runs" / name / "summary.json").write_text(json.dumps({"code_commit": commit, "wall_seconds": 1.0}))


def test_meta_files_of_two_outputs_do_not_overwrite_each_other(tmp_path):
    _finished_run(tmp_path, "a_s0", "c0")
    _finished_run(tmp_path, "b_s0", "c1")
    ex = Experiment(SimpleNamespace(jobs=1, preset="quick", finished_only=False, out=str(tmp_path)), "study")
    ex.pending = ["a_s1", "b_s1"]
    ex.finish("_a", runs=["a_s0", "a_s1"], lr=0.03)
    ex.finish("_b", runs=["b_s0", "b_s1"])
    a, b = (json.loads((tmp_path / f"study_{k}.meta.json").read_text()) for k in "ab")
    assert a["runs"] == {"a_s0": {"code_commit": "c0", "wall_seconds": 1.0}} and a["pending_runs"] == ["a_s1"]
    assert a["lr"] == 0.03 and "lr" not in b
    assert list(b["runs"]) == ["b_s0"] and b["pending_runs"] == ["b_s1"]
    assert not (tmp_path / "study.meta.json").exists()


def test_every_trainability_group_belongs_to_exactly_one_output():
    ex = SimpleNamespace(preset="paper", task=lambda name, cfg: SimpleNamespace(name=name),
                         config=lambda *a, **k: None)
    every = set(trainability.groups(ex, sr_lr=0.03)) | set(trainability.NO_RUN_GROUPS)
    families = [g for family in trainability.OUTPUTS.values() for g in family]
    assert sorted(families) == sorted(every)


def test_summaries_of_runs_before_0_2_read_in_todays_keys(tmp_path):
    """The committed runs of the first sessions name success ``reached_ground_state`` and give no residual energy;
    RunDir.summary adds both as today's runs write them, so every script reads one format."""
    from nm_tf.annealing.rundir import RunDir

    _finished_run(tmp_path, "old_s0", "c0")
    path = tmp_path / "runs" / "old_s0" / "summary.json"
    path.write_text(json.dumps({"energy_per_spin_mean": -0.4993, "ground_state_energy_per_spin": -0.5,
                                "reached_ground_state": True}))
    s = RunDir(path.parent).summary()
    assert s["ground_state_in_final_sample"] is True
    assert abs(s["residual_energy_per_spin"] - 0.0007) < 1e-12
