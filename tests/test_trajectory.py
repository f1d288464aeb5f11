"""Optimisation paths: weights kept along an anneal and the landscape on their PCA plane."""

import json

import numpy as np
import pytest

from nm_tf.annealing import AnnealConfig
from nm_tf.cli import main
from nm_tf.landscape.trajectory import load_trajectory, pca_plane


def test_pca_plane_recovers_a_planar_path():
    rng = np.random.default_rng(0)
    shapes = {"kernel": (6, 4), "bias": (4,)}
    center = {k: rng.normal(size=s) for k, s in shapes.items()}
    u, v = (rng.normal(size=28) for _ in range(2))
    t = np.linspace(0, 1, 9)
    flat = [np.concatenate([center[k].ravel() for k in shapes]) + (3 * (1 - x)) * u + np.sin(4 * x) * v for x in t]
    path = [{"kernel": f[:24].reshape(6, 4), "bias": f[24:]} for f in flat]
    delta, eta, coords, explained = pca_plane(center, path)
    d = np.concatenate([delta[k].ravel() for k in shapes])
    e = np.concatenate([eta[k].ravel() for k in shapes])
    assert d @ d == pytest.approx(1) and e @ e == pytest.approx(1) and abs(d @ e) < 1e-12
    assert explained.sum() == pytest.approx(1.0) and explained[0] >= explained[1] > 0
    # the path lies in the plane: its points are the centre plus their coordinates along PC1, PC2
    recon = coords @ np.stack([d, e])
    np.testing.assert_allclose(recon, np.stack(flat) - np.concatenate([center[k].ravel() for k in shapes]), atol=1e-10)
    assert coords[0, 0] < 0 and coords[0, 1] < 0       # the sign convention: the path starts on the negative side


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """A run keeping its weights every 3 annealing steps and at every one while T <= 0.35."""
    from nm_tf.workflow import run_anneal

    cfg = AnnealConfig(L=3, hidden=8, warmup=10, annealing_steps=6, train_steps=2, samples=50, final_samples=500,
                       final_chunk=500, lr=0.01, T0=1.0, trajectory_every=3, trajectory_dense="0:0.35:1")
    path = tmp_path_factory.mktemp("kept") / "r"
    run_anneal(cfg, path)
    return path


def test_trajectory_keeps_the_start_the_warmup_end_and_its_schedule(kept):
    from nm_tf.annealing.rundir import RunDir

    steps, T, _, _ = load_trajectory(kept)
    rows = [r for r in RunDir(kept).history() if r.phase == "anneal"]
    want = [0, 10] + [r.step for r in rows if r.annealing_step % 3 == 0 or r.T <= 0.35]
    assert steps.tolist() == want and len(want) > 4 and T[0] == pytest.approx(1.0) and T[-1] == pytest.approx(0.0)
    with pytest.raises(Exception, match="trajectory_dense must be"):
        AnnealConfig(L=3, trajectory_dense="0.3:0.1:2")


def test_trajectory_is_scanned_on_its_pca_plane(kept, tmp_path, capsys):
    import shutil

    shutil.copytree(kept, tmp_path / "r")
    capsys.readouterr()
    assert main(["landscape", "--workdir", str(tmp_path / "r"), "--plane", "pca", "--points", "5", "--exact",
                 "--quiet", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tag"] == "pca_ckpt22" and out["plane"] == "pca" and 0 < sum(out["explained_variance"]) <= 1 + 1e-9
    data = np.load(tmp_path / "r" / "landscape" / "landscape_pca_ckpt22.npz")
    assert data["trajectory_alpha"].shape == (len(load_trajectory(kept)[0]),) and str(data["plane"]) == "pca"
    # the last kept point is the final weights, the plane's centre; the span holds the whole path
    assert abs(data["trajectory_alpha"][-1]) < 1e-6 and abs(data["trajectory_beta"][-1]) < 1e-6
    assert float(data["span"]) == pytest.approx(1.2 * max(np.abs(data["trajectory_alpha"]).max(),
                                                          np.abs(data["trajectory_beta"]).max()))
    # without a trajectory, or with the random plane's options: one line naming the problem
    assert main(["landscape", "--workdir", str(tmp_path / "r"), "--plane", "pca", "--normalization", "filter"]) == 2
    assert "random plane only" in capsys.readouterr().err
    (tmp_path / "r" / "trajectory").rename(tmp_path / "kept")
    assert main(["landscape", "--workdir", str(tmp_path / "r"), "--plane", "pca", "--quiet"]) == 2
    assert "--trajectory-every" in capsys.readouterr().err


# Default-suite budget (session 27): `slow`; the PCA-plane scan of a trajectory stays
# in the default run.
@pytest.mark.slow
def test_scan_centred_on_a_kept_point_and_a_window_of_the_path(kept, tmp_path, capsys):
    """Issue 27 §5: landscapes inside a window of the anneal, centred on the weights kept there."""
    import shutil

    import tensorflow as tf

    from nm_tf.annealing.rundir import RunDir
    from nm_tf.landscape.curvature import CurvatureProblem
    from nm_tf.models import build_model

    shutil.copytree(kept, tmp_path / "r")
    run = str(tmp_path / "r")
    steps, T, gamma, weights = load_trajectory(run)
    inside = [i for i in range(len(steps)) if T[i] <= 0.35]
    i = inside[1]
    capsys.readouterr()
    assert main(["landscape", "--workdir", run, "--trajectory-step", str(steps[i]), "--points", "3", "--exact",
                 "--quiet", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tag"] == f"traj{steps[i]}" and out["step"] == steps[i] and out["T"] == pytest.approx(T[i])
    # the centre is the exact F/N of the kept weights at the kept T, not the final weights' or the schedule's
    model = build_model(RunDir(run).config(), jit_compile=False)
    for name, var in model.rnn_cell.weight_dict().items():
        var.assign(weights[i][name])
    problem = CurvatureProblem(model, quantum=False, T=T[i], gamma=0.0, exact=True)
    assert out["center_loss"] == pytest.approx(float(problem.loss(tf.constant(problem.theta0))), rel=1e-5)
    # the PCA plane of the window's points only, through the kept point (on the path: coordinates 0, 0)
    assert main(["landscape", "--workdir", run, "--trajectory-step", str(steps[i]), "--plane", "pca", "--window",
                 "0:0.35", "--points", "3", "--exact", "--quiet", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    data = np.load(tmp_path / "r" / "landscape" / f"landscape_pca_traj{steps[i]}.npz")
    assert out["tag"] == f"pca_traj{steps[i]}" and data["trajectory_steps"].tolist() == [int(steps[k]) for k in inside]
    k = inside.index(i)
    assert abs(data["trajectory_alpha"][k]) < 1e-6 and abs(data["trajectory_beta"][k]) < 1e-6
    # one line for each misuse
    for argv, says in ((["--trajectory-step", "7"], "nearest kept steps are"),
                       (["--trajectory-step", str(steps[i]), "--checkpoint", "20"], "give one"),
                       (["--window", "0:0.35"], "needs --plane pca"),
                       (["--plane", "pca", "--window", "0.9:0.95"], "needs at least 3"),
                       (["--plane", "pca", "--window", "0.3"], "LOW:HIGH")):
        assert main(["landscape", "--workdir", run, "--points", "3", "--exact", *argv]) == 2
        assert says in capsys.readouterr().err


@pytest.mark.slow   # default-suite budget: a minute or more on 2 cores
def test_curvature_along_the_trajectory_is_resumable_and_matches_one_point(kept, tmp_path, capsys):
    import csv
    import shutil

    from nm_tf.landscape.curvature import CurvatureProblem, hessian_extremes
    from nm_tf.models import build_model
    from nm_tf.annealing.rundir import RunDir

    shutil.copytree(kept, tmp_path / "r")
    run = str(tmp_path / "r")
    argv = ["curvature", "--workdir", run, "--trajectory", "--window", "0:0.35", "--exact", "--top", "1",
            "--bottom", "1"]
    assert main(argv) == 0
    path = tmp_path / "r" / "trajectory" / "curvature_trajectory.csv"
    rows = list(csv.DictReader(path.open()))
    steps, T, gamma, weights = load_trajectory(run)
    inside = [int(s) for s, t in zip(steps, T) if t <= 0.35]
    assert [int(r["step"]) for r in rows] == inside and len(inside) >= 2
    # one point by hand
    i = list(steps).index(inside[0])
    model = build_model(RunDir(run).config(), jit_compile=False)
    for name, var in model.rnn_cell.weight_dict().items():
        var.assign(weights[i][name])
    want = hessian_extremes(CurvatureProblem(model, quantum=False, T=T[i], gamma=0.0, exact=True), top=1, bottom=1)
    assert float(rows[0]["top_1"]) == pytest.approx(want["top"][0], rel=1e-6)
    assert float(rows[0]["bottom_1"]) == pytest.approx(want["bottom"][0], rel=1e-6, abs=1e-9)
    assert rows[-1]["exact_per_spin"] != ""        # the run's exact F at that step, for the comparison
    # killed after the first point: the second call does only the rest
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:2]))
    capsys.readouterr()
    assert main(argv) == 0
    assert "[1/" in capsys.readouterr().out
    assert [int(r["step"]) for r in csv.DictReader(path.open())] == inside
    assert main(["curvature", "--workdir", run, "--window", "0:1"]) == 2
    assert "needs --trajectory" in capsys.readouterr().err


def test_weights_of_another_network_are_refused_in_one_line():
    from nm_tf.errors import UsageError
    from nm_tf.models import NewmanMooreRNN

    model, other = (NewmanMooreRNN(3, hidden=h, seed=0, jit_compile=False) for h in (4, 5))
    kept = {k: v.numpy() for k, v in other.rnn_cell.weight_dict().items()}
    with pytest.raises(UsageError, match="do not match the model"):
        model.rnn_cell.assign_weight_dict(kept)
    same = {k: v.numpy() + 1.0 for k, v in model.rnn_cell.weight_dict().items()}
    model.rnn_cell.assign_weight_dict(same)
    assert all(np.array_equal(v.numpy(), same[k]) for k, v in model.rnn_cell.weight_dict().items())
