"""``nm-tf anneal --ensemble K``: K ordinary run directories from one compiled step."""

import json

import numpy as np
import pytest

from nm_tf.annealing.config import AnnealConfig
from nm_tf.annealing.driver import NonFiniteError, anneal
from nm_tf.annealing.ensemble_run import anneal_ensemble, ensemble_members, read_ensemble_file
from nm_tf.annealing.rundir import RunDir
from nm_tf.errors import UsageError

BASE = dict(L=3, warmup=10, annealing_steps=20, train_steps=2, hidden=6, samples=20, lr=3e-3, final_samples=500,
            final_chunk=500, checkpoint_every=5, jit=False, T0=1.5)


def _losses(wd):
    return np.array([r.loss_per_spin for r in RunDir(wd).history()])


# Default-suite budget (session 27): the other cases with `-m slow`.
@pytest.mark.parametrize("extra", [{}, pytest.param({"minibatch": 10, "clip_norm": 0.05}, marks=pytest.mark.slow),
                                   pytest.param({"optimizer": "sr", "lr": 0.05, "sr_shift": 0.01},
                                                marks=pytest.mark.slow),
                                   pytest.param({"minibatch": 10, "local_loss": "stale", "ordering": "raster-wrap",
                                                 "init": "authors", "dtype": "float64", "prob_floor": 1e-8},
                                                marks=pytest.mark.slow)],
                         ids=["table-I", "minibatch-clip", "sr", "authors-numerics"])
def test_members_are_ordinary_runs_that_follow_the_single_runs(tmp_path, extra):
    cfg = AnnealConfig(**{**BASE, **extra})
    cfgs, dirs = ensemble_members(cfg, tmp_path / "ens", 2)
    summaries = anneal_ensemble(cfgs, dirs)
    single = anneal(cfgs[1], tmp_path / "single")
    assert [d.name for d in dirs] == ["seed0", "seed1"]
    for wd in dirs:                         # every file a single run has
        rd = RunDir(wd)
        assert rd.finished and rd.weights_path.exists() and rd.samples_path.exists() and rd.config().seed in (0, 1)
    np.testing.assert_allclose(_losses(dirs[1]), _losses(tmp_path / "single"), rtol=1e-5, atol=1e-7)
    assert summaries[1]["ensemble_size"] == 2 and "ensemble_size" not in single
    # the same weights give the same final sample (its seed is the member's)
    assert abs(summaries[1]["energy_per_spin_mean"] - single["energy_per_spin_mean"]) < 1e-3
    assert not np.allclose(_losses(dirs[0]), _losses(dirs[1]))        # different seeds, different runs


class _Interrupt:
    def __init__(self, at):
        self.at = at

    def on_row(self, run, row, step):
        if step == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("extra", [{}, pytest.param({"optimizer": "sr", "lr": 0.05}, marks=pytest.mark.slow)],
                         ids=["adam", "sr"])
def test_an_interrupted_ensemble_resumes_to_the_uninterrupted_result(tmp_path, extra):
    cfgs, dirs = ensemble_members(AnnealConfig(**{**BASE, **extra}), tmp_path / "whole", 2)
    anneal_ensemble(cfgs, dirs)
    _, cut = ensemble_members(AnnealConfig(**{**BASE, **extra}), tmp_path / "cut", 2)
    with pytest.raises(KeyboardInterrupt):       # after the checkpoint of step 20 (annealing step 5)
        anneal_ensemble(cfgs, cut, callbacks=[[_Interrupt(24)], []])
    assert not RunDir(cut[0]).finished
    anneal_ensemble(cfgs, cut, resume=True)
    for a, b in zip(dirs, cut):
        np.testing.assert_allclose(_losses(b), _losses(a), rtol=1e-6)


def test_a_member_resumes_as_a_single_run_with_the_same_result(tmp_path):
    cfgs, dirs = ensemble_members(AnnealConfig(**BASE), tmp_path / "ens", 2)
    with pytest.raises(KeyboardInterrupt):
        anneal_ensemble(cfgs, dirs, callbacks=[[], [_Interrupt(24)]])
    anneal(cfgs[1], dirs[1], resume=True)                            # the member alone, from its checkpoint
    anneal(cfgs[1], tmp_path / "single")
    np.testing.assert_allclose(_losses(dirs[1]), _losses(tmp_path / "single"), rtol=1e-5, atol=1e-7)


def test_reuse_skips_finished_members_and_trains_the_rest(tmp_path):
    cfgs, dirs = ensemble_members(AnnealConfig(**BASE), tmp_path / "ens", 3)
    first = anneal(cfgs[0], dirs[0])
    summaries = anneal_ensemble(cfgs, dirs, reuse=True)
    assert summaries[0] == first and all(RunDir(d).finished for d in dirs)
    assert "ensemble_size" in summaries[2]


def test_a_member_that_goes_nan_stops_alone(tmp_path, monkeypatch):
    import tensorflow as tf

    from nm_tf.annealing import ensemble

    load = ensemble.EnsembleStep.load_members

    def poisoned(self, models, optimizers):
        load(self, models, optimizers)
        w = self.weights["bias"]
        w.assign(tf.tensor_scatter_nd_update(w, [[1]], tf.fill([1] + w.shape[1:], np.nan)))

    monkeypatch.setattr(ensemble.EnsembleStep, "load_members", poisoned)
    cfgs, dirs = ensemble_members(AnnealConfig(**{**BASE, "max_bad_steps": 3}), tmp_path / "ens", 2)
    with pytest.raises(NonFiniteError, match="1 of 2 ensemble members stopped: seed 1"):
        anneal_ensemble(cfgs, dirs)
    assert RunDir(dirs[0]).finished and not RunDir(dirs[1]).finished


def test_what_an_ensemble_refuses(tmp_path):
    with pytest.raises(UsageError, match="an ensemble cannot train with symmetry kernel"):
        anneal_ensemble(*ensemble_members(AnnealConfig(**BASE, symmetry="kernel"), tmp_path / "a", 2))
    with pytest.raises(UsageError, match="differ only in seed, not in L"):
        anneal_ensemble([AnnealConfig(**BASE), AnnealConfig(**{**BASE, "L": 4}, seed=1)],
                        [tmp_path / "b", tmp_path / "c"])
    for bad in (0, 5000, True):
        with pytest.raises(UsageError, match="invalid value for argument `ensemble`"):
            ensemble_members(AnnealConfig(**BASE), tmp_path, bad)


def test_cli_ensemble_writes_members_and_resumes(tmp_path, capsys):
    from nm_tf.cli import main

    wd = tmp_path / "cli"
    args = ["anneal", "--workdir", str(wd), "--L", "3", "--warmup", "10", "--annealing-steps", "4",
            "--train-steps", "2", "--hidden", "4", "--samples", "20", "--final-samples", "200", "--jit", "false",
            "--seed", "7", "--ensemble", "2", "--quiet", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["ensemble_size"] for s in out] == [2, 2]
    cfgs, dirs = read_ensemble_file(wd)
    assert [c.seed for c in cfgs] == [7, 8] and [d.name for d in dirs] == ["seed7", "seed8"]
    assert main(args) == 2 and "already holds a run; use --resume" in capsys.readouterr().err
    assert main(["anneal", "--workdir", str(wd), "--resume", "--quiet"]) == 2      # finished: nothing to resume
    assert "already finished" in capsys.readouterr().err
    assert main(["anneal", "--workdir", str(tmp_path / "x"), "--ensemble", "2", "--symmetry", "kernel"]) == 2
    assert "an ensemble cannot train with symmetry kernel" in capsys.readouterr().err
