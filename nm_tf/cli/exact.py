"""``nm-tf exact``: degeneracy, thermodynamics and quantum ground energies (no TensorFlow)."""

from __future__ import annotations

import json

from ..errors import UsageError
from .args import parse_float_list, parse_L

__all__ = ["add_parser"]


def _run(args) -> int:
    from ..exact import degeneracy, log2_degeneracy, quantum_ground_energy, thermodynamics
    from ..exact.quantum import MAX_QUANTUM_SPINS
    from ..hamiltonian import ground_state_energy

    L = args.L
    temps = parse_float_list(args.T, "T", positive=True)
    gammas = parse_float_list(args.gamma, "Gamma", nonneg=True) if args.gamma else []
    if gammas and L * L > MAX_QUANTUM_SPINS:
        raise UsageError(f"quantum ground energy needs L^2 <= {MAX_QUANTUM_SPINS} spins "
                         f"(exact diagonalisation), got L={L}")
    thermo = {text: thermodynamics(L, value) for text, value in temps}
    result = {
        "L": L,
        "n_spins": L * L,
        "log2_degeneracy": log2_degeneracy(L),
        "degeneracy": degeneracy(L),
        "ground_state_energy_per_spin": ground_state_energy(L) / (L * L),
        "free_energy_per_spin": {k: float(v["free_energy"]) for k, v in thermo.items()},
        "energy_per_spin": {k: float(v["energy"]) for k, v in thermo.items()},
        "entropy_per_spin": {k: float(v["entropy"]) for k, v in thermo.items()},
    }
    if gammas:
        result["quantum_ground_energy_per_spin"] = {
            text: quantum_ground_energy(L, value) for text, value in gammas}
    if args.json:
        print(json.dumps(result, allow_nan=False))   # a NaN/inf here is a bug: never print non-JSON
        return 0
    print(f"Newman–Moore model, L = {L} (N = {L * L} spins, periodic triangular lattice)")
    print(f"  ground states: 2^{result['log2_degeneracy']} = {result['degeneracy']}, "
          f"energy per spin {result['ground_state_energy_per_spin']:+.6f}")
    print(f"  {'T':>10} {'f = F/N':>14} {'u = U/N':>14} {'s = S/N':>14}")
    for text in thermo:
        print(f"  {text:>10} {_number(result['free_energy_per_spin'][text])} "
              f"{_number(result['energy_per_spin'][text])} {_number(result['entropy_per_spin'][text])}")
    if gammas:
        print(f"  {'Gamma':>10} {'e0 = E0/N':>14}")
        for text, e0 in result["quantum_ground_energy_per_spin"].items():
            print(f"  {text:>10} {_number(e0)}")
    return 0


def _number(x: float) -> str:
    """Ten decimals in a 14-wide column; in exponent form where that would print hundreds of digits (F/N at
    T = 1e300 is -T ln 2)."""
    return f"{x:14.10f}" if abs(x) < 1e6 else f"{x:14.10e}"


def add_parser(sub):
    p = sub.add_parser("exact", help="exact degeneracy, thermodynamics and quantum ground energy")
    p.add_argument("--L", type=parse_L, required=True, help="linear lattice size (>= 2)")
    p.add_argument("--T", default="0.5,1,2", help="comma-separated temperatures (> 0)")
    p.add_argument("--gamma", default=None, help="comma-separated transverse fields (>= 0); L^2 <= 25")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_run)
