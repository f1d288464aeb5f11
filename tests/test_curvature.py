"""nm-tf curvature: Hessian-vector products and the extreme eigenvalues of the training loss."""

import json

import numpy as np
import pytest

from nm_tf.landscape.curvature import CurvatureProblem, heldout_quotients, hessian_extremes
from nm_tf.models import NewmanMooreRNN


def _model():
    # init "authors": non-zero hidden biases. With zero biases the first site's pre-activation is exactly 0, the
    # ELU's kink, where the loss has no second derivative (finite differences average the two sides).
    return NewmanMooreRNN(2, hidden=2, seed=3, dtype="float64", init="authors", jit_compile=False)


def _dense_hessian(problem, eps=1e-5):
    n = problem.n_params
    cols = []
    for i in range(n):
        e = np.zeros(n)
        e[i] = eps
        cols.append((problem.gradient(problem.theta0 + e) - problem.gradient(problem.theta0 - e)) / (2 * eps))
    h = np.stack(cols, axis=1)
    return 0.5 * (h + h.T)


@pytest.mark.parametrize("quantum, T, gamma", [(False, 0.7, 0.0), (True, 0.0, 0.8),
                                               pytest.param(True, 0.3, 0.5, marks=pytest.mark.slow)])
def test_exact_hessian_matches_finite_differences(quantum, T, gamma):
    problem = CurvatureProblem(_model(), quantum=quantum, T=T, gamma=gamma, exact=True)
    h = _dense_hessian(problem)
    v = np.random.default_rng(0).normal(size=problem.n_params)
    np.testing.assert_allclose(problem.hvp(v), h @ v, rtol=1e-6, atol=1e-8)
    eig = np.linalg.eigvalsh(h)
    out = hessian_extremes(problem, top=3, bottom=3)
    np.testing.assert_allclose(out["top"], eig[::-1][:3], rtol=1e-4)
    np.testing.assert_allclose(out["bottom"], eig[:3], rtol=1e-4)
    assert out["negative_fraction"] == np.mean(np.r_[out["top"], out["bottom"]] < 0)


def test_one_lanczos_run_for_both_edges_gives_the_per_edge_eigenvalues_in_fewer_products():
    problem = CurvatureProblem(_model(), quantum=False, T=0.5, gamma=0.0, samples=64, seed=2, jit_compile=False)
    both = hessian_extremes(problem, top=4, bottom=4, seed=1)
    per_edge = hessian_extremes(problem, top=4, bottom=4, seed=1, both_ends=False)
    np.testing.assert_allclose(both["top"], per_edge["top"], rtol=1e-6)
    np.testing.assert_allclose(both["bottom"], per_edge["bottom"], rtol=1e-6)
    assert 0 < both["products"] < per_edge["products"]
    # unequal edges: the larger sets the Lanczos run; each edge keeps its own count
    three_one = hessian_extremes(problem, top=3, bottom=1, seed=1)
    assert three_one["top"] == both["top"][:3] or np.allclose(three_one["top"], both["top"][:3], rtol=1e-6)
    assert len(three_one["bottom"]) == 1 and np.isclose(three_one["bottom"][0], both["bottom"][0], rtol=1e-6)


def test_xla_products_equal_the_plain_ones_and_are_the_sampled_vca_default():
    sampled = CurvatureProblem(_model(), quantum=False, T=0.5, gamma=0.0, samples=64, seed=2)
    plain = CurvatureProblem(_model(), quantum=False, T=0.5, gamma=0.0, samples=64, seed=2, jit_compile=False)
    assert sampled.jit_compile and not plain.jit_compile
    v = np.random.default_rng(4).normal(size=sampled.n_params)
    np.testing.assert_allclose(sampled.hvp(v), plain.hvp(v), rtol=1e-10, atol=1e-12)
    # XLA cannot compile the transverse-field term's double backprop; exact sums serve small checks: plain there
    assert not CurvatureProblem(_model(), quantum=True, T=0.0, gamma=0.5, samples=8).jit_compile
    assert not CurvatureProblem(_model(), quantum=False, T=0.5, gamma=0.0, exact=True).jit_compile


def test_heldout_quotients_are_unbiased_and_bound_the_exact_edges():
    """Eigenvectors of a small-sample Hessian, tested on independent sample sets: each held-out mean is the exact
    Rayleigh quotient within its standard errors, and the bounds built from them hold for the exact Hessian."""
    exact = CurvatureProblem(_model(), quantum=False, T=0.5, gamma=0.0, exact=True)
    eig = np.linalg.eigvalsh(_dense_hessian(exact))

    def make(seed):
        return CurvatureProblem(_model(), quantum=False, T=0.5, gamma=0.0, samples=24, seed=seed, jit_compile=False)

    first = make(0)
    res = hessian_extremes(first, top=2, bottom=2, vectors=True)
    for name in ("top", "bottom"):
        vecs = res[f"{name}_vectors"]
        assert vecs.shape == (2, exact.n_params)
        for lam, v in zip(res[name], vecs):          # unit eigenvectors of the in-sample Hessian
            np.testing.assert_allclose(np.linalg.norm(v), 1.0, rtol=1e-10)
            np.testing.assert_allclose(first.hvp(v), lam * v, atol=1e-6 * max(1.0, abs(lam)))
    out = heldout_quotients(make, res, range(1, 31))
    assert out["seeds"] == list(range(1, 31))
    for name in ("top", "bottom"):
        for r, v in zip(out[name], res[f"{name}_vectors"]):
            want = float(v @ exact.hvp(v))
            assert r["se"] > 0 and abs(r["mean"] - want) < 4 * r["se"], (name, r, want)
    assert out["lambda_max_lower"] <= eig[-1] and out["lambda_min_upper"] >= eig[0]
    # the small sample inflates the edges: the in-sample top eigenvalue exceeds its held-out value
    assert out["top"][0]["in_sample"] > out["top"][0]["mean"]
    with pytest.raises(Exception, match="at least one held-out"):
        heldout_quotients(make, res, [])


@pytest.mark.slow
@pytest.mark.parametrize("quantum, T, gamma, vector_seed", [(False, 0.5, 0.0, 1), (True, 0.0, 0.8, 2)])
def test_sampled_hessian_is_unbiased(quantum, T, gamma, vector_seed):
    """The importance-sampling estimate at fixed samples: its H v averaged over seeds is the exact H v. For VQA the
    sampled loss takes its flipped amplitudes from the suffix passes, the exact one from the enumeration (a
    gather), so this also checks the double backprop through the flip passes."""
    exact = CurvatureProblem(_model(), quantum=quantum, T=T, gamma=gamma, exact=True)
    v = np.random.default_rng(vector_seed).normal(size=exact.n_params)
    want = exact.hvp(v)
    draws = np.array([CurvatureProblem(_model(), quantum=quantum, T=T, gamma=gamma, samples=200, seed=s).hvp(v)
                      for s in range(40)])
    mean, sem = draws.mean(0), draws.std(0, ddof=1) / np.sqrt(len(draws))
    assert np.all(np.abs(mean - want) < 4 * sem + 1e-9), np.max(np.abs(mean - want) / (sem + 1e-12))


# Default-suite budget (session 26's slower machine): `slow`; the estimator's exact and sampled checks stay in the
# default run.
@pytest.mark.slow
def test_curvature_cli(tmp_path, capsys):
    from nm_tf.annealing.config import AnnealConfig
    from nm_tf.cli import main
    from nm_tf.workflow import run_anneal

    wd = tmp_path / "r"
    run_anneal(AnnealConfig(L=2, warmup=4, annealing_steps=4, train_steps=1, hidden=4, samples=10, final_samples=20,
                            jit=False, landscape=("end",), landscape_points=2), wd)

    def run(*a):        # in this process: a subprocess per call only added TensorFlow's import
        capsys.readouterr()
        code = main(["curvature", "--workdir", str(wd), *a])
        return code, *capsys.readouterr()

    code, stdout, _ = run("--exact", "--top", "2", "--bottom", "2", "--json")
    assert code == 0
    out = json.loads(stdout)
    assert {"top", "bottom", "T", "gamma", "n_params", "samples", "negative_fraction", "condition_ratio"} <= set(out)
    assert out["top"] == sorted(out["top"], reverse=True) and out["bottom"] == sorted(out["bottom"])
    assert out["samples"] == "exact" and out["n_params"] == 2 * 6 * 4 + 4 + 8 + 2
    code, _, err = run("--top", "100000")
    assert code == 2 and "--top must be" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    # at a landscape snapshot's weights: the end snapshot holds the final weights
    code, stdout, _ = run("--snapshot", "end", "--exact", "--top", "2", "--bottom", "2", "--json")
    assert code == 0
    at_end = json.loads(stdout)
    np.testing.assert_allclose(at_end["top"] + at_end["bottom"], out["top"] + out["bottom"], rtol=1e-6)
    assert at_end["step"] == out["step"] and at_end["T"] == out["T"]
    code, _, err = run("--snapshot", "mid")
    assert code == 2 and "no snapshot 'mid'" in err
    # held-out sample sets: the bounds beside the in-sample edges; refused where they mean nothing
    code, stdout, _ = run("--samples", "16", "--top", "1", "--bottom", "1", "--heldout", "2", "--json")
    assert code == 0
    held = json.loads(stdout)["heldout"]
    assert held["seeds"] == [1, 2] and len(held["top"]) == len(held["bottom"]) == 1
    assert held["lambda_max_lower"] <= held["top"][0]["mean"] and held["lambda_min_upper"] >= held["bottom"][0]["mean"]
    for bad, words in ((("--heldout", "3", "--exact"), "--exact has none"), (("--heldout", "1"), "2..100"),
                       (("--heldout", "3", "--trajectory"), "not --trajectory")):
        code, _, err = run(*bad)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
