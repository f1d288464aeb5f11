"""The ``nm-tf`` command line.

Every subcommand lives in its own module and registers a parser here. Errors a
user can fix (bad sizes, temperatures, paths, configs) are raised on purpose as
``UsageError`` (or are file-system errors) and reported as one line on stderr with
exit code 2; a run stopped for a reason the user should see is a ``RunError``
(exit 1, one line). Anything else is a bug: its traceback is shown (exit 1).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

if not os.environ.get("TF_CPP_MIN_LOG_LEVEL"):   # before any TensorFlow import
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

from .errors import RunError, UsageError  # noqa: E402 - after the log-level default

__all__ = ["UsageError", "main", "parse_float_list"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's default prints usage; keep it one line
        raise UsageError(message)


def parse_float_list(text: str, name: str, *, positive: bool = False, nonneg: bool = False):
    """Parse ``"0.5,1,2"`` into ``[("0.5", 0.5), ...]``, keeping the text as written."""
    out = []
    for item in text.split(","):
        item = item.strip()
        try:
            value = float(item)
        except ValueError:
            raise UsageError(f"{name} must be a comma-separated list of numbers, got {item!r}") from None
        if math.isnan(value) or math.isinf(value):
            raise UsageError(f"{name} must be finite, got {item!r}")
        if positive and value <= 0:
            raise UsageError(f"{name} must be > 0, got {item!r}")
        if nonneg and value < 0:
            raise UsageError(f"{name} must be >= 0, got {item!r}")
        out.append((item, value))
    return out


MAX_EXACT_L = 128   # GF(2) elimination of the N x N parity map: N^2/8 bytes (32 MB) and ~30 s at L = 128


def parse_L(text: str) -> int:
    """argparse type for a lattice size: an integer 2..MAX_EXACT_L."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"L must be an integer >= 2, got {text!r}") from None
    if not 2 <= value <= MAX_EXACT_L:
        raise argparse.ArgumentTypeError(f"L must be an integer 2..{MAX_EXACT_L} (the GF(2) elimination holds an "
                                         f"N x N bit matrix, N = L^2), got {value}")
    return value


# --------------------------------------------------------------------------- exact
def _exact(args) -> int:
    from .exact import degeneracy, log2_degeneracy, quantum_ground_energy, thermodynamics
    from .exact.quantum import MAX_QUANTUM_SPINS
    from .hamiltonian import ground_state_energy

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
        print(json.dumps(result))
        return 0
    print(f"Newman–Moore model, L = {L} (N = {L * L} spins, periodic triangular lattice)")
    print(f"  ground states: 2^{result['log2_degeneracy']} = {result['degeneracy']}, "
          f"energy per spin {result['ground_state_energy_per_spin']:+.6f}")
    print(f"  {'T':>10} {'f = F/N':>14} {'u = U/N':>14} {'s = S/N':>14}")
    for text in thermo:
        print(f"  {text:>10} {result['free_energy_per_spin'][text]:14.10f} "
              f"{result['energy_per_spin'][text]:14.10f} {result['entropy_per_spin'][text]:14.10f}")
    if gammas:
        print(f"  {'Gamma':>10} {'e0 = E0/N':>14}")
        for text, e0 in result["quantum_ground_energy_per_spin"].items():
            print(f"  {text:>10} {e0:14.10f}")
    return 0


def _add_exact(sub):
    p = sub.add_parser("exact", help="exact degeneracy, thermodynamics and quantum ground energy")
    p.add_argument("--L", type=parse_L, required=True, help="linear lattice size (>= 2)")
    p.add_argument("--T", default="0.5,1,2", help="comma-separated temperatures (> 0)")
    p.add_argument("--gamma", default=None, help="comma-separated transverse fields (>= 0); L^2 <= 25")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_exact)


def build_parser() -> argparse.ArgumentParser:
    # The subcommand modules import only argparse-level code; TensorFlow loads inside each command.
    from . import client, quickstart
    from .annealing import cli as anneal_cli
    from .export import cli as export_cli
    from .landscape import cli as landscape_cli
    from .modes import cli as modes_cli
    from .server import cli as serve_cli
    from .sweep import cli as sweep_cli

    from . import __version__

    parser = _Parser(prog="nm-tf", description="Variational neural annealing of the Newman-Moore model: exact "
                                               "physics, VCA/VQA anneals, loss landscapes, mode analysis, "
                                               "sweeps, SavedModel export and a TF-Serving-compatible server.",
                     epilog="nm-tf COMMAND --help describes each command.")
    parser.add_argument("--version", action="version", version=f"nm-tf {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up and info messages (hidden by default)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_exact(sub)
    for module in (anneal_cli, landscape_cli, modes_cli, export_cli, serve_cli, client, quickstart, sweep_cli):
        module.add_parser(sub)
    return parser


def _configure_logging():
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("nm-tf: %(levelname)s: %(message)s"))
    logger = logging.getLogger("nm_tf")
    if not logger.handlers:
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def main(argv=None) -> int:
    _configure_logging()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:          # bare nm-tf: what it can do
            parser.print_help()
            return 0
        if args.command != "exact":       # nm-tf exact never imports TensorFlow
            from .runtime import import_tensorflow

            import_tensorflow(verbose=args.verbose)
        return int(args.func(args) or 0)
    except (UsageError, FileNotFoundError, FileExistsError) as exc:
        print(f"nm-tf: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:   # the file system said no: permissions, a full disk, a file where a folder must be
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"nm-tf: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except RunError as exc:
        print(f"nm-tf: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nm-tf: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
