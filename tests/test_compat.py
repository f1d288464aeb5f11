"""Run directories written before the run-loop redesign still resume, export and analyse."""

import json
import shutil
from pathlib import Path

import numpy as np

from nm_tf.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "runs_v0_2_e6974c1"


def test_old_interrupted_run_resumes_to_the_old_result(tmp_path, capsys):
    shutil.copytree(FIXTURE, tmp_path / "runs")
    old = json.loads((FIXTURE / "finished" / "summary.json").read_text())
    assert main(["anneal", "--workdir", str(tmp_path / "runs" / "interrupted"), "--resume", "--quiet"]) == 0
    new = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("energy_per_spin_mean", "ground_state_fraction", "distinct_ground_states",
                "exact_rel_deviation_median"):
        assert new[key] == old[key], key
    rows = (tmp_path / "runs" / "interrupted" / "history.csv").read_text()
    assert rows == (FIXTURE / "finished" / "history.csv").read_text()


def test_old_finished_run_exports_and_analyses(tmp_path, capsys):
    shutil.copytree(FIXTURE, tmp_path / "runs")
    run = tmp_path / "runs" / "finished"
    assert main(["export", "--workdir", str(run), "--model-dir", str(tmp_path / "models"), "--name", "old"]) == 0
    assert (tmp_path / "models" / "old" / "1" / "saved_model.pb").exists()
    capsys.readouterr()
    assert main(["modes", "--workdir", str(run), "--samples", "2000", "--seed", "1", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert stats["n_samples"] == 2000 and stats["degeneracy"] == 4
    assert 0.0 <= stats["ground_state_fraction"] <= 1.0 and np.isfinite(stats["kl_to_uniform"] or 0.0)
