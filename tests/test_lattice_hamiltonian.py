import numpy as np
import pytest

from nm_tf import as_bits, energy, ground_state_energy, hamming_to_trivial, make_ordering, triangles
from nm_tf.lattice import check_L


def test_triangles_follow_the_convention():
    tri = triangles(3)
    # triangle anchored at (x=2, y=1): (2,1), (0,1), (2,2)
    assert tri[2 + 3 * 1].tolist() == [5, 3, 8]
    assert tri.shape == (9, 3)
    # every site is in exactly three triangles
    assert np.bincount(tri.ravel(), minlength=9).tolist() == [3] * 9


@pytest.mark.parametrize("bad", [1, 0, -3, 2.5, "4", None, True])
def test_bad_L_is_rejected(bad):
    with pytest.raises(ValueError, match="L must be an integer"):
        check_L(bad)


@pytest.mark.parametrize("name", ["zigzag", "raster", "raster-wrap"])
@pytest.mark.parametrize("L", [2, 3, 5])
def test_orderings_are_permutations_with_causal_neighbours(name, L):
    o = make_ordering(L, name)
    assert sorted(o.sites.tolist()) == list(range(L * L))
    pos = o.position()
    for k, s in enumerate(o.sites):
        x, y = s % L, s // L
        assert o.columns[k] == x
        if o.vertical[k] >= 0:
            assert o.vertical[k] == x + L * (y - 1) and pos[o.vertical[k]] < k
        else:
            assert y == 0
        h = o.horizontal[k]
        if o.row_start[k] and name == "raster-wrap" and k > 0:
            assert h == x + L * y - 1 and h % L == L - 1 and pos[h] == k - 1   # the previous row's last site
        elif h >= 0:
            assert h // L == y and abs(h % L - x) == 1 and pos[h] == k - 1
        else:
            assert o.row_start[k]


def test_zigzag_snakes_and_raster_does_not():
    z, r = make_ordering(3, "zigzag"), make_ordering(3, "raster")
    assert z.sites.tolist() == [0, 1, 2, 5, 4, 3, 6, 7, 8]
    assert r.sites.tolist() == list(range(9))
    assert z.horizontal.tolist()[3:6] == [-1, 5, 4]
    w = make_ordering(3, "raster-wrap")
    assert w.sites.tolist() == list(range(9))
    assert w.horizontal.tolist() == [-1, 0, 1, 2, 3, 4, 5, 6, 7]
    assert r.horizontal.tolist() == [-1, 0, 1, -1, 3, 4, -1, 6, 7]


def test_energy_matches_the_spin_formula(states):
    L = 3
    b = states(L)
    sigma = 1 - 2 * b.astype(np.int64)
    tri = triangles(L)
    expected = 0.5 * (sigma[:, tri[:, 0]] * sigma[:, tri[:, 1]] * sigma[:, tri[:, 2]]).sum(1)
    np.testing.assert_array_equal(energy(b, L), expected)
    np.testing.assert_array_equal(energy(sigma, L, encoding="spins"), expected)
    np.testing.assert_array_equal(energy(b.reshape(-1, L, L), L), expected)


def test_trivial_state_is_a_ground_state():
    for L in (2, 3, 6):
        assert energy(np.ones(L * L), L)[0] == ground_state_energy(L) == -L * L / 2
        assert hamming_to_trivial(np.ones(L * L), L)[0] == 0
        assert hamming_to_trivial(np.zeros((L, L)), L)[0] == L * L


def test_energy_is_translation_invariant():
    rng = np.random.default_rng(0)
    L = 5
    b = rng.integers(0, 2, size=(20, L, L))
    e = energy(b, L)
    for dx in range(L):
        for dy in range(L):
            np.testing.assert_array_equal(energy(np.roll(b, (dy, dx), axis=(1, 2)), L), e)


def test_tensorflow_energy_equals_numpy(states):
    tf = pytest.importorskip("tensorflow")
    from nm_tf import energy_tf

    rng = np.random.default_rng(1)
    for L in (2, 3, 4, 7):
        b = states(L) if L <= 3 else rng.integers(0, 2, size=(500, L * L))
        np.testing.assert_array_equal(energy_tf(tf.constant(b), L).numpy(), energy(b, L))
        np.testing.assert_array_equal(
            energy_tf(tf.constant(b.reshape(-1, L, L)), L, dtype=tf.float64).numpy(), energy(b, L))


@pytest.mark.parametrize(
    "config, encoding, message",
    [
        (np.zeros((2, 8)), "bits", "shape"),
        (np.zeros((2, 3, 4)), "bits", "shape"),
        (np.full((1, 9), 2), "bits", "values"),
        (np.zeros((1, 9)), "spins", "values"),
        (np.array([["a"] * 9]), "bits", "numeric"),
        (np.ones((1, 9)), "ising", "encoding"),
    ],
)
def test_bad_configurations_are_rejected(config, encoding, message):
    with pytest.raises(ValueError, match=message):
        as_bits(config, 3, encoding)
