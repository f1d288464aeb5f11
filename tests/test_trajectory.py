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


def test_trajectory_is_kept_and_scanned_on_its_pca_plane(tmp_path, capsys):
    from nm_tf.workflow import run_anneal

    cfg = AnnealConfig(L=3, hidden=8, warmup=10, annealing_steps=6, train_steps=2, samples=50, final_samples=500,
                       final_chunk=500, lr=0.01, T0=1.0, trajectory_every=2)
    run_anneal(cfg, tmp_path / "r")
    steps, T, _, weights = load_trajectory(tmp_path / "r")
    assert steps.tolist() == [0, 10, 14, 18, 22] and T[0] == pytest.approx(1.0) and T[-1] == pytest.approx(0.0)
    capsys.readouterr()
    assert main(["landscape", "--workdir", str(tmp_path / "r"), "--plane", "pca", "--points", "5", "--exact",
                 "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tag"] == "pca_ckpt22" and out["plane"] == "pca" and 0 < sum(out["explained_variance"]) <= 1 + 1e-9
    data = np.load(tmp_path / "r" / "landscape" / "landscape_pca_ckpt22.npz")
    assert data["trajectory_alpha"].shape == (5,) and str(data["plane"]) == "pca"
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
