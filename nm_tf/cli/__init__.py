"""The ``nm-tf`` command line.

Every subcommand lives in its own module and registers a parser here. Errors a
user can fix (bad sizes, temperatures, paths, configs) are raised on purpose as
``UsageError`` (or are file-system errors) and reported as one line on stderr with
exit code 2; a run stopped for a reason the user should see is a ``RunError``
(exit 1, one line). Anything else is a bug: its traceback is shown (exit 1).
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..runtime import quiet_tensorflow

quiet_tensorflow()   # before any TensorFlow import

from ..errors import RunError, UsageError  # noqa: E402 - after the log-level default
from .args import OneLineParser, parse_float_list  # noqa: E402

__all__ = ["UsageError", "main", "parse_float_list", "start_tensorflow"]


def build_parser() -> argparse.ArgumentParser:
    # The subcommand modules import only argparse-level code; TensorFlow loads inside each command.
    from .. import __version__
    from . import anneal, curvature, exact, export, landscape, modes, quickstart, sample, serve, sweep

    parser = OneLineParser(prog="nm-tf", description="Variational neural annealing of the Newman-Moore model: exact "
                           "physics, VCA/VQA anneals, loss landscapes, mode analysis, "
                           "sweeps, SavedModel export and a TF-Serving-compatible server.",
                           epilog="nm-tf COMMAND --help describes each command.")
    parser.add_argument("--version", action="version", version=f"nm-tf {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up and info messages (hidden by default)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for module in (exact, anneal, landscape, curvature, modes, export, serve, sample, quickstart, sweep):
        module.add_parser(sub)
    return parser


def start_tensorflow(args):
    """Import TensorFlow with its start-up lines hidden (shown with ``nm-tf --verbose``)."""
    from ..runtime import import_tensorflow

    return import_tensorflow(verbose=getattr(args, "verbose", False))


class _ConsoleFormatter(logging.Formatter):
    """INFO lines (progress, summaries) as they are; warnings and errors marked."""

    def format(self, record):
        text = record.getMessage()
        return text if record.levelno == logging.INFO else f"nm-tf: {record.levelname.lower()}: {text}"


def _configure_logging():
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_ConsoleFormatter())
    logger = logging.getLogger("nm_tf")
    if not logger.handlers:
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)     # progress lines and summaries are INFO; --quiet raises it to WARNING
    logger.propagate = False          # a root handler some library installs would print every line again


def main(argv=None) -> int:
    _configure_logging()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:          # bare nm-tf: what it can do
            parser.print_help()
            return 0
        if getattr(args, "quiet", False):
            logging.getLogger("nm_tf").setLevel(logging.WARNING)
        # nm-tf exact never imports TensorFlow; a command that checks its input first starts it itself (through
        # start_tensorflow), so that a bad flag is refused in well under a second.
        if args.command != "exact" and not getattr(args, "checks_before_tensorflow", False):
            start_tensorflow(args)
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
