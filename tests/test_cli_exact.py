import json
import subprocess
import sys

import pytest

from nm_tf.cli import main
from nm_tf.exact import thermodynamics


def test_exact_json(capsys):
    assert main(["exact", "--L", "6", "--T", "0.5,1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["L"] == 6 and out["n_spins"] == 36
    assert out["degeneracy"] == 16 and out["log2_degeneracy"] == 4
    assert out["ground_state_energy_per_spin"] == -0.5
    assert set(out["free_energy_per_spin"]) == {"0.5", "1"}
    assert out["free_energy_per_spin"]["0.5"] == pytest.approx(thermodynamics(6, 0.5)["free_energy"])
    assert "quantum_ground_energy_per_spin" not in out


def test_exact_json_with_gamma(capsys):
    assert main(["exact", "--L", "3", "--gamma", "0.5,1.0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["quantum_ground_energy_per_spin"]) == {"0.5", "1.0"}


def test_exact_text(capsys):
    assert main(["exact", "--L", "3"]) == 0
    assert "2^2 = 4" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--L", "1"], "L must be an integer"),
        (["--L", "x"], "L must be an integer"),
        (["--L", "3", "--T", "0"], "T must be > 0"),
        (["--L", "3", "--T", "nan"], "T must be finite"),
        (["--L", "3", "--gamma", "-1"], "Gamma must be >= 0"),
        (["--L", "6", "--gamma", "1"], "L^2 <= 25"),
    ],
)
def test_exact_bad_input(args, message):
    r = subprocess.run([sys.executable, "-m", "nm_tf", "exact", *args], capture_output=True, text=True)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_exact_does_not_import_tensorflow():
    code = ("import sys; from nm_tf.cli import main; main(['exact', '--L', '3', '--json']); "
            "print('TF' if 'tensorflow' in sys.modules else 'noTF')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip().endswith("noTF"), r.stdout + r.stderr
