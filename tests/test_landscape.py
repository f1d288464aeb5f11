"""Loss landscapes: batched evaluation against exact enumeration, CRN smoothness, resume, snapshots."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from nm_tf.annealing.config import AnnealConfig
from nm_tf.annealing.driver import anneal
from nm_tf.annealing.losses import local_losses
from nm_tf.cli import main
from nm_tf.hamiltonian import energy
from nm_tf.landscape import scan as scan_mod
from nm_tf.landscape.directions import normalize, orthogonalize, plane
from nm_tf.landscape.evaluate import PlaneLoss, all_states
from nm_tf.landscape.scan import LandscapeSpec, roughness, scan_plane
from nm_tf.models import NewmanMooreRNN
from nm_tf.models.rnn import seed_tensor


@pytest.fixture(scope="module")
def tiny():
    model = NewmanMooreRNN(3, hidden=8, seed=3)
    center = {k: v.numpy().astype(np.float64) for k, v in model.rnn_cell.weight_dict().items()}
    delta, eta = plane(center, seed=5)
    return model, center, delta, eta


def _enumerated_loss(model, center, delta, eta, a, b, T, gamma):
    """Reference: assign the perturbed weights and sum over all 512 states with the model's own log_prob."""
    states = all_states(model.n_sites)
    weights = model.rnn_cell.weight_dict()
    try:
        for k, v in weights.items():
            v.assign(center[k] + a * delta[k] + b * eta[k])
        lp = model.log_prob(states).numpy().astype(np.float64)
    finally:
        for k, v in weights.items():
            v.assign(center[k])
    p = np.exp(lp)
    loc = energy(states, model.L) + T * lp
    if gamma:
        idx = np.arange(len(states))[:, None] ^ (1 << np.arange(model.n_sites))[None, :]
        loc = loc - gamma * np.exp(0.5 * (lp[idx] - lp[:, None])).sum(axis=1)
    return float(p @ loc) / model.n_sites


@pytest.mark.parametrize("quantum,T,gamma", [(False, 1.0, 0.0), (True, 0.0, 1.0), (True, 0.5, 0.7)])
def test_batched_exact_equals_enumeration_with_assigned_weights(tiny, quantum, T, gamma):
    model, center, delta, eta = tiny
    a, b = np.array([0.0, 0.3, -0.7]), np.array([0.0, -0.2, 0.4])
    mean, _ = PlaneLoss(model, quantum=quantum).exact(center, delta, eta, a, b, T, gamma)
    ref = [_enumerated_loss(model, center, delta, eta, a[i], b[i], T, gamma) for i in range(3)]
    np.testing.assert_allclose(mean, ref, atol=2e-5)


# Default-suite budget (session 27): the other cases with `-m slow`.
@pytest.mark.parametrize("quantum,T,gamma", [(False, 1.0, 0.0),
                                             pytest.param(True, 0.0, 1.0, marks=pytest.mark.slow)])
def test_sampled_scan_agrees_with_exact_within_sampling_error(tiny, tmp_path, quantum, T, gamma):
    model, center, delta, eta = tiny
    ev = PlaneLoss(model, quantum=quantum)
    spec = LandscapeSpec(points=5, span=0.8, samples=400, seed=2)
    got = scan_plane(ev, center, delta, eta, spec, T=T, gamma=gamma, out=tmp_path / "s.npz", meta={})
    exact = scan_plane(ev, center, delta, eta, LandscapeSpec(points=5, span=0.8, samples=400, exact=True),
                       T=T, gamma=gamma, out=tmp_path / "e.npz", meta={})
    z = (got["loss"] - exact["loss"]) / exact["loss_sampling_std"]
    assert np.abs(z).max() < 4.5, z
    assert 0.2 < np.mean(z ** 2) < 2.5, np.mean(z ** 2)       # the noise is the one predicted
    # Centre: the exact landscape's centre is the loss at theta* itself.
    assert exact["center_loss"] == pytest.approx(_enumerated_loss(model, center, delta, eta, 0, 0, T, gamma),
                                                 abs=2e-5)
    assert got["center_loss"] == pytest.approx(got["loss"][2, 2], abs=1e-6)


# the penalised loss contains the plain one; without the penalty with `-m slow`
@pytest.mark.parametrize("penalty", [pytest.param(0.0, marks=pytest.mark.slow), 0.05])
def test_centre_equals_training_loss_on_the_same_samples(tiny, tmp_path, penalty):
    model, center, delta, eta = tiny
    spec = LandscapeSpec(points=3, span=0.5, samples=300, seed=4)
    res = scan_plane(PlaneLoss(model, quantum=True, penalty=penalty), center, delta, eta, spec, T=0.3, gamma=0.6,
                     out=tmp_path / "c.npz", meta={})
    seed = seed_tensor([4, 4])          # the centre of a 3x3 grid is point 4
    bits, lp = model.sample_graph(300, seed)
    loc, _ = local_losses(model, bits, lp, 0.3, 0.6, quantum=True, penalty=penalty)
    assert res["center_loss"] == pytest.approx(float(tf.reduce_mean(loc)) / 9, abs=1e-5)


def test_exact_landscape_includes_the_penalty(tiny):
    model, center, delta, eta = tiny
    zero = np.zeros(1)
    with_p, _ = PlaneLoss(model, quantum=False, penalty=0.1).exact(center, delta, eta, zero, zero, 1.0, 0.0)
    without, _ = PlaneLoss(model, quantum=False).exact(center, delta, eta, zero, zero, 1.0, 0.0)
    states = all_states(model.n_sites)
    p = np.exp(model.log_prob(states).numpy().astype(np.float64))
    assert with_p[0] - without[0] == pytest.approx(0.1 * float(p @ states.sum(axis=1)) / 9, abs=1e-5)


def test_crn_removes_sampling_noise(tiny, tmp_path):
    model, center, delta, eta = tiny
    ev = PlaneLoss(model, quantum=False)
    kw = dict(points=9, span=0.04, samples=200, seed=1)
    fresh = scan_plane(ev, center, delta, eta, LandscapeSpec(**kw), T=1.0, gamma=0.0,
                       out=tmp_path / "f.npz", meta={})
    crn = scan_plane(ev, center, delta, eta, LandscapeSpec(crn=True, **kw), T=1.0, gamma=0.0,
                     out=tmp_path / "c.npz", meta={})
    exact = scan_plane(ev, center, delta, eta, LandscapeSpec(exact=True, **kw), T=1.0, gamma=0.0,
                       out=tmp_path / "e.npz", meta={})
    assert roughness(crn["loss"]) < 0.25 * roughness(fresh["loss"])
    # Fresh-sample roughness is the sampling noise: ~ sqrt(2/pi) * sqrt(2) * sigma/sqrt(N_s) per difference.
    noise = 0.5 * np.sqrt(2 / np.pi) * np.sqrt(2) * exact["loss_sampling_std"].mean()
    assert roughness(fresh["loss"]) > noise


def test_repeats_give_spread_and_interrupted_scan_resumes(tiny, tmp_path, monkeypatch):
    model, center, delta, eta = tiny
    ev = PlaneLoss(model, quantum=False)
    spec = LandscapeSpec(points=4, span=0.5, samples=50, seed=0, repeats=3, chunk=4)
    full = scan_plane(ev, center, delta, eta, spec, T=1.0, gamma=0.0, out=tmp_path / "full.npz", meta={})
    assert full["loss_std"].shape == (4, 4) and np.all(full["loss_std"] > 0)

    class Dies:
        model, quantum, calls = ev.model, ev.quantum, 0

        def sampled(self, *a, **k):
            Dies.calls += 1
            if Dies.calls == 7:
                raise KeyboardInterrupt
            return ev.sampled(*a, **k)

    monkeypatch.setattr(scan_mod, "SAVE_EVERY_SECONDS", 0.0)
    out = tmp_path / "cut.npz"
    with pytest.raises(KeyboardInterrupt):
        scan_plane(Dies(), center, delta, eta, spec, T=1.0, gamma=0.0, out=out, meta={})
    partial = tmp_path / "cut.partial.npz"
    assert partial.exists() and not out.exists()
    assert np.isfinite(np.load(partial)["loss"]).sum() == 6 * 4
    with pytest.raises(ValueError, match="other settings"):
        scan_plane(ev, center, delta, eta, spec, T=2.0, gamma=0.0, out=out, meta={})
    resumed = scan_plane(ev, center, delta, eta, spec, T=1.0, gamma=0.0, out=out, meta={})
    np.testing.assert_allclose(resumed["loss_repeats"], full["loss_repeats"], atol=1e-6)
    assert not partial.exists()


def test_directions_seeded_normalised_orthogonal(tmp_path):
    rng = np.random.default_rng(0)
    center = {"kernel": rng.normal(size=(6, 4)), "bias": np.zeros(4), "out_bias": rng.normal(size=2)}
    d1, e1 = plane(center, 7, path=tmp_path / "dir.npz")
    d2, e2 = plane(center, 7, path=tmp_path / "dir.npz")      # read back from the file
    d3, _ = plane(center, 8)
    assert all(np.array_equal(d1[k], d2[k]) and np.array_equal(e1[k], e2[k]) for k in center)
    assert not np.allclose(d1["kernel"], d3["kernel"])
    with pytest.raises(ValueError, match="seed 7"):
        plane(center, 8, path=tmp_path / "dir.npz")
    f = normalize(d1, center, "filter")
    np.testing.assert_allclose(np.linalg.norm(f["kernel"], axis=0), np.linalg.norm(center["kernel"], axis=0))
    assert np.all(f["bias"] == 0)                                 # zero weights, zero direction
    lay = normalize(d1, center, "layer")
    assert np.linalg.norm(lay["out_bias"]) == pytest.approx(np.linalg.norm(center["out_bias"]))
    o = orthogonalize(d1, e1)
    flat = lambda d: np.concatenate([v.ravel() for v in d.values()])  # noqa: E731
    assert abs(flat(o) @ flat(d1)) < 1e-9
    assert np.linalg.norm(flat(o)) == pytest.approx(np.linalg.norm(flat(e1)))


@pytest.mark.parametrize("kw,message", [
    (dict(points=1), "points must be"), (dict(span=0.0), "span must be"), (dict(span=float("nan")), "span"),
    (dict(samples=0), "samples must be"), (dict(normalization="x"), "normalization"),
    (dict(exact=True, repeats=2), "repeats must be 1"),
])
def test_bad_spec(kw, message):
    with pytest.raises(ValueError, match=message):
        LandscapeSpec(**kw)


def _small_cfg(**kw):
    return AnnealConfig(L=3, hidden=8, warmup=10, annealing_steps=6, train_steps=2, samples=50,
                        final_samples=500, final_chunk=500, lr=0.01, T0=1.0, landscape_points=5, **kw)


class _StopAt:
    """Raise once at the given snapshot (a crash inside the landscape scan)."""

    def __init__(self, tag):
        self.tag, self.fired = tag, False

    def on_snapshot(self, event):
        if event.tag == self.tag and not self.fired:
            self.fired = True
            raise KeyboardInterrupt


@pytest.mark.slow   # default-suite budget: a minute or more on 2 cores
def test_snapshots_during_annealing_and_resume_after_crash(tmp_path, capsys):
    from nm_tf.landscape.snapshots import LandscapeCallback, spec_from_config

    tags = ("before_warmup", "mid_annealing", "end")
    cfg = _small_cfg(landscape=tags)
    anneal(cfg, tmp_path / "a", callbacks=[LandscapeCallback.from_config(cfg)])
    files = sorted(p.name for p in (tmp_path / "a" / "landscape").iterdir())
    for tag in tags:
        assert {f"landscape_{tag}.npz", f"landscape_{tag}_2d.png", f"landscape_{tag}_3d.png"} <= set(files)
    mid = np.load(tmp_path / "a" / "landscape" / "landscape_mid_annealing.npz")
    assert mid["loss"].shape == (5, 5) and str(mid["mode"]) == "vca" and int(mid["step"]) == 16
    assert float(mid["T"]) == pytest.approx(0.5)
    # The images are in TensorBoard.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "a" / "tensorboard" / "a"),     # the run's own TensorBoard run
                           size_guidance={"tensors": 0})
    acc.Reload()
    assert "landscape/mid_annealing_2d" in acc.Tags()["tensors"]

    # Crash inside the mid-annealing scan, resume: the same snapshot as the uninterrupted run.
    with pytest.raises(KeyboardInterrupt):
        anneal(cfg, tmp_path / "b",
               callbacks=[_StopAt("mid_annealing"), LandscapeCallback(tags, spec_from_config(cfg))])
    assert not (tmp_path / "b" / "landscape" / "landscape_mid_annealing.npz").exists()
    anneal(cfg, tmp_path / "b", resume=True, callbacks=[LandscapeCallback(tags, spec_from_config(cfg))])
    again = np.load(tmp_path / "b" / "landscape" / "landscape_mid_annealing.npz")
    np.testing.assert_allclose(again["loss"], mid["loss"], atol=1e-6)


def test_cli_standalone_and_errors(tmp_path, capsys):
    cfg = _small_cfg(checkpoint_every=1)
    anneal(cfg, tmp_path / "r")
    capsys.readouterr()
    assert main(["landscape", "--workdir", str(tmp_path / "r"), "--points", "3", "--exact", "--quiet", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert all(os.path.exists(f) for f in out["figures"])
    assert out["tag"] == "ckpt22" and out["T"] == 0.0
    assert main(["landscape", "--workdir", str(tmp_path / "r"), "--points", "3", "--checkpoint", "20",
                 "--quiet", "--crn"]) == 0
    text = capsys.readouterr().out            # human text by default: the loss range and the files written
    assert "random plane" in text and "landscape_ckpt20_2d.png" in text
    # --out: the scan's files elsewhere (a run one cannot write to), the run untouched
    before = sorted(p.name for p in (tmp_path / "r" / "landscape").iterdir())
    assert main(["landscape", "--workdir", str(tmp_path / "r"), "--points", "3", "--exact", "--quiet", "--tag", "o",
                 "--out", str(tmp_path / "elsewhere"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["file"] == str(tmp_path / "elsewhere" / "landscape_o.npz")
    assert {"landscape_o.npz", "landscape_o_2d.png", "landscape_o_3d.png", "weights_o.npz"} <= {
        p.name for p in (tmp_path / "elsewhere").iterdir()}
    assert sorted(p.name for p in (tmp_path / "r" / "landscape").iterdir()) == before
    data = np.load(tmp_path / "r" / "landscape" / "landscape_ckpt20.npz")
    assert bool(data["crn"]) and float(data["T"]) == pytest.approx(1 / 6)
    for argv, message in [
        (["--points", "1"], "points must be"), (["--span", "-1"], "span must be"),
        (["--checkpoint", "5"], "no checkpoint 5"), (["--points", "3", "--exact"], "exists"),
        (["--temperature", "-1"], "temperature"),
    ]:
        assert main(["landscape", "--workdir", str(tmp_path / "r"), *argv]) == 2
        assert message in capsys.readouterr().err
    assert main(["landscape", "--workdir", str(tmp_path / "missing")]) == 2
    assert "missing config.json" in capsys.readouterr().err


def test_overflowing_points_are_kept_as_nan_and_not_redone(tiny, tmp_path, monkeypatch):
    model, center, delta, eta = tiny
    ev = PlaneLoss(model, quantum=False)

    class Overflows:
        model, quantum, calls = ev.model, ev.quantum, 0

        def sampled(self, center, delta, eta, alpha, beta, *a, **k):
            Overflows.calls += 1
            out = ev.sampled(center, delta, eta, alpha, beta, *a, **k)
            return np.where(np.asarray(alpha) > 0.3, np.nan, out)   # as a float32 overflow would

    spec = LandscapeSpec(points=5, span=0.5, samples=20, chunk=5)
    monkeypatch.setattr(scan_mod, "SAVE_EVERY_SECONDS", 0.0)
    res = scan_plane(Overflows(), center, delta, eta, spec, T=1.0, gamma=0.0, out=tmp_path / "o.npz",
                     meta={"mode": "vca", "tag": "t"})
    assert res["nonfinite_points"] == 5 and np.isnan(res["loss"][-1]).all() and np.isfinite(res["loss"][:-1]).all()
    assert Overflows.calls == 5 + 1                                   # 5 chunks + the centre, nothing redone
    from nm_tf.landscape.plots import rescale, write_figures

    r = rescale(res["loss"])
    assert np.nanmin(r) == -1 and np.nanmax(r) == 1 and np.isnan(r[-1]).all()
    for path in write_figures(res, tmp_path / "o"):
        assert path.stat().st_size > 1000
