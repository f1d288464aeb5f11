import math

import numpy as np
import pytest

from nm_tf import energy
from nm_tf.exact import (
    degeneracy,
    dual_weight_distribution,
    ground_state_weight,
    ground_states,
    log2_degeneracy,
    quantum_ground_energy,
    quantum_ground_energy_dense,
    thermodynamics,
)
from nm_tf.exact.gf2 import kernel_basis, parity_matrix


@pytest.mark.parametrize("L", [2, 3, 4])
def test_degeneracy_and_ground_states_match_brute_force(L, states):
    b = states(L)
    e = energy(b, L)
    brute = b[e == e.min()]
    assert e.min() == -L * L / 2
    assert degeneracy(L) == len(brute)
    gs = ground_states(L)
    assert sorted(map(bytes, gs)) == sorted(map(bytes, brute))
    assert gs[0].tolist() == [1] * (L * L)  # trivial state first


def test_paper_degeneracies():
    assert degeneracy(3) == 4 and degeneracy(6) == 16
    for k in range(1, 7):
        assert degeneracy(2 ** k) == 1


@pytest.mark.parametrize("L", [5, 6, 7, 9, 12])
def test_enumerated_ground_states_are_distinct_ground_states(L):
    gs = ground_states(L)
    assert len(gs) == degeneracy(L)
    assert len({bytes(g) for g in gs}) == len(gs)
    np.testing.assert_array_equal(energy(gs, L), -L * L / 2)


def test_degeneracy_agrees_with_the_row_transfer_rule():
    # ker A: row y+1 = (1 + S) row y, so dim ker A = dim ker((1 + S)^L + 1) on GF(2)^L
    for L in range(2, 20):
        s = np.roll(np.eye(L, dtype=np.int64), 1, axis=1)
        m = np.eye(L, dtype=np.int64)
        for _ in range(L):
            m = (m @ (np.eye(L, dtype=np.int64) + s)) % 2
        m = (m + np.eye(L, dtype=np.int64)) % 2
        rank = _rank_gf2(m)
        assert log2_degeneracy(L) == L - rank, L


def _rank_gf2(m):
    m = m.copy() % 2
    r = 0
    for c in range(m.shape[1]):
        piv = [i for i in range(r, m.shape[0]) if m[i, c]]
        if not piv:
            continue
        m[[r, piv[0]]] = m[[piv[0], r]]
        for i in range(m.shape[0]):
            if i != r and m[i, c]:
                m[i] ^= m[r]
        r += 1
    return r


def test_kernel_basis_is_in_the_kernel():
    for L in (3, 6, 7):
        for tr in (False, True):
            a = parity_matrix(L, transpose=tr).astype(np.int64)
            assert not ((kernel_basis(L, tr).astype(np.int64) @ a.T) % 2).any()


def test_enumeration_limit_is_a_clear_error():
    with pytest.raises(ValueError, match="ground states"):
        ground_states(15, max_log2=10)


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("T", [0.05, 0.3, 1.0, 2.5, 40.0])
def test_thermodynamics_match_brute_force(L, T, states):
    e = energy(states(L), L)
    n = L * L
    w = np.exp(-(e - e.min()) / T)
    log_z = math.log(w.sum()) - e.min() / T
    u = (e * w).sum() / w.sum()
    f = -T * log_z
    th = thermodynamics(L, T)
    assert th["log_Z"] == pytest.approx(log_z, abs=1e-10)
    assert th["free_energy"] == pytest.approx(f / n, abs=1e-10)
    assert th["energy"] == pytest.approx(u / n, abs=1e-10)
    assert th["entropy"] == pytest.approx((u - f) / (T * n), abs=1e-10)
    # The ground-state manifold's Boltzmann weight, counted state by state.
    assert ground_state_weight(L, T) == pytest.approx(w[e == e.min()].sum() / w.sum(), abs=1e-10)


@pytest.mark.parametrize("T", [1e4, 1e20, 1e300])
def test_thermodynamics_at_very_high_temperature_match_brute_force(T, states):
    """Up to T = 1e300 (at T = 1e20 the sum over the dual code took ln 0 before session 28): relative to F's size."""
    L = 3
    e, n = energy(states(L), L), L * L
    w = np.exp(-(e - e.min()) / T)
    log_z = math.log(w.sum()) - e.min() / T
    u = (e * w).sum() / w.sum()
    th = thermodynamics(L, T)
    assert th["log_Z"] == pytest.approx(log_z, rel=1e-13)
    assert th["free_energy"] == pytest.approx(-T * log_z / n, rel=1e-13)
    assert th["energy"] == pytest.approx(u / n, abs=1e-12)
    assert th["entropy"] == pytest.approx((log_z + u / T) / n, abs=1e-12)       # S = ln Z + U / T


def test_power_of_two_reduces_to_the_closed_form():
    for L in (4, 8, 16, 32):
        for T in (0.2, 1.0, 10.0):
            f = -T * math.log(2 * math.cosh(1 / (2 * T)))
            assert thermodynamics(L, T)["free_energy"] == pytest.approx(f, abs=1e-12)


def test_low_and_high_temperature_limits():
    for L in (3, 6, 7):
        lo = thermodynamics(L, 0.01)
        assert lo["energy"] == pytest.approx(-0.5, abs=1e-9)
        assert lo["entropy"] == pytest.approx(math.log(degeneracy(L)) / L**2, abs=1e-6)
        hi = thermodynamics(L, 1e4)
        assert hi["entropy"] == pytest.approx(math.log(2), abs=1e-6)


def test_weight_distribution_counts_the_dual_code():
    for L in (3, 6, 7, 9):
        a = dual_weight_distribution(L)
        assert a.sum() == degeneracy(L) and a[0] == 1


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_bad_temperature(bad):
    with pytest.raises(ValueError, match="temperature"):
        thermodynamics(3, bad)


@pytest.mark.parametrize("L", [2, 3])
@pytest.mark.parametrize("gamma", [0.05, 0.5, 1.0, 4.0])
def test_quantum_sector_matches_dense_diagonalisation(L, gamma):
    assert quantum_ground_energy(L, gamma) == pytest.approx(
        quantum_ground_energy_dense(L, gamma), abs=1e-10)


def test_quantum_limits():
    for L in (3, 4):
        assert quantum_ground_energy(L, 0.0) == -0.5
        g = 1e-3
        assert quantum_ground_energy(L, g) == pytest.approx(-0.5, abs=1e-5)
        big = 200.0
        # paramagnet: e0 = -Gamma plus a negative second-order correction of order J^2 / Gamma
        e = quantum_ground_energy(L, big)
        assert -big - 1.0 / big < e < -big
        # Fields beyond 1e6 are solved as H / Gamma and scaled back (Lanczos's norms overflowed at 1e308 before
        # session 28): the same physics on both sides of the switch, and no overflow at the top of the doubles.
        for huge in (2e6, 1e100, 1e308):
            e = quantum_ground_energy(L, huge)
            assert -huge - 1.0 / huge <= e <= -huge * (1 - 1e-15)
        assert quantum_ground_energy(L, 1e6) == pytest.approx(quantum_ground_energy(L, 1e6 * (1 + 1e-9)) / (1 + 1e-9),
                                                              rel=1e-14)


@pytest.mark.parametrize("gamma", [0.1, 0.3, 0.45, 2.0])
def test_zzz_x_duality(gamma):
    # For L with a unique classical ground state (A invertible), e0(G) = 2G e0(1/(4G)).
    for L in (2, 4):
        assert quantum_ground_energy(L, gamma) == pytest.approx(
            2 * gamma * quantum_ground_energy(L, 1 / (4 * gamma)), abs=1e-9)


def test_self_dual_point_is_where_the_duality_fixes_gamma():
    # At Gamma = J/2 the relation maps the model to itself: nothing to compare but identity;
    # the second derivative of e0 peaks near it on finite lattices (precursor of the transition).
    gs = np.linspace(0.3, 0.7, 9)
    e = np.array([quantum_ground_energy(4, g) for g in gs])
    d2 = np.diff(e, 2)
    assert abs(gs[1:-1][np.argmin(d2)] - 0.5) <= 0.1


def test_quantum_bad_input():
    with pytest.raises(ValueError, match="L\\^2 <= 25"):
        quantum_ground_energy(6, 1.0)
    with pytest.raises(ValueError, match="Gamma"):
        quantum_ground_energy(3, -1.0)


@pytest.mark.slow
def test_quantum_l5_duality_and_limits():
    assert quantum_ground_energy(5, 0.25) == pytest.approx(0.5 * quantum_ground_energy(5, 1.0), abs=1e-9)


def test_thermodynamics_is_stable_down_to_tiny_temperatures():
    """S/N tends to ln(D)/N as T -> 0 (D ground states) and F/N to E0/N: at T = 1e-300 too, in finite numbers
    (the entropy was once the difference of two numbers ~1/T)."""
    import math

    from nm_tf.exact import degeneracy, thermodynamics

    for L in (3, 6):
        ln_d = math.log(degeneracy(L)) / L ** 2
        for T in (1e-3, 1e-30, 1e-300):
            th = thermodynamics(L, T)
            assert th["entropy"] == pytest.approx(ln_d, rel=1e-12)
            assert th["free_energy"] == pytest.approx(-0.5 - T * ln_d, rel=1e-14)
            assert th["energy"] == -0.5
    with pytest.raises(ValueError, match="T must be >="):
        thermodynamics(6, 1e-320)


def test_inverse_parity_matrix_inverts_a_at_powers_of_two_and_refuses_otherwise():
    from nm_tf.errors import UsageError
    from nm_tf.exact import inverse_parity_matrix, parity_matrix

    for L in (4, 8):
        a, inv = parity_matrix(L).astype(np.int64), inverse_parity_matrix(L).astype(np.int64)
        assert np.array_equal((a @ inv) & 1, np.eye(L * L, dtype=np.int64))
    with pytest.raises(UsageError, match="singular at L = 6"):
        inverse_parity_matrix(6)


def test_boltzmann_samples_follow_the_exact_distribution_at_l4():
    """Every one of the 2^16 configurations at L = 4, counted in 4 x 10^5 exact samples, against its Boltzmann
    probability: the chi-square test over the energy levels and the per-configuration frequencies of the most
    likely ones; and the same seed gives the same samples."""
    from scipy.stats import chisquare

    from nm_tf.errors import UsageError
    from nm_tf.exact import boltzmann_samples, thermodynamics
    from nm_tf.hamiltonian import energy

    L, T, n = 4, 0.7, 400_000
    bits = boltzmann_samples(L, T, n, seed=3)
    assert np.array_equal(boltzmann_samples(L, T, 1000, seed=3), boltzmann_samples(L, T, 1000, seed=3))
    e = energy(bits, L)
    assert abs(e.mean() / (L * L) - thermodynamics(L, T)["energy"]) < 4 * e.std() / (L * L) / np.sqrt(n)
    # energy levels: counts against the exact density of states times the Boltzmann weight
    states = ((np.arange(1 << (L * L))[:, None] >> np.arange(L * L)) & 1).astype(np.uint8)
    levels, dos = np.unique(energy(states, L), return_counts=True)
    logz = thermodynamics(L, T)["log_Z"]
    expected = n * dos * np.exp(-levels / T - logz)
    observed = np.array([np.sum(e == lv) for lv in levels])
    keep = expected > 5
    assert abs(expected.sum() - n) < 1e-6 * n
    assert chisquare(observed[keep], expected[keep] * observed[keep].sum() / expected[keep].sum()).pvalue > 1e-3
    with pytest.raises(UsageError, match="temperature T"):
        boltzmann_samples(L, 0.0, 10, seed=0)
