"""The ``colormae`` command line: the jobs of :mod:`colormae.commands.jobs` plus the tool commands.

A job's arguments are generated from its config dataclass (``--config FILE``, a ``--flag`` per
setting, ``key=value`` overrides); tool commands (``plan``, ``patterns``, ``data``, ``convert``, ``viz``)
are modules in :mod:`colormae.commands` exposing ``register(subparsers)``, which adds a parser and sets
``func`` (called with the parsed namespace, returning an exit code or ``None``; one that sets
``takes_overrides`` also gets the ``key=value`` words as ``args.overrides``). User mistakes print one
``error:`` line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from colormae import __version__
from colormae.errors import UserError

#: Tool commands (not jobs), listed after the jobs by ``--help``.
COMMANDS: tuple[str, ...] = ("plan", "patterns", "data", "convert", "viz")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every job and command registered."""
    from colormae.commands.jobs import JOBS, register

    parser = argparse.ArgumentParser(
        prog="colormae",
        description="Masked Autoencoder pretraining with data-independent colour-noise masks (ColorMAE).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"colormae {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for job in JOBS:
        register(sub, job)
    for name in COMMANDS:
        importlib.import_module(f"colormae.commands.{name}").register(sub)
    return parser


def _dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    from colormae.commands.jobs import build_config, run_job
    from colormae.config import split_overrides

    args, extra = parser.parse_known_args(argv)
    overrides, rest = split_overrides(extra)
    job = getattr(args, "job", None)
    takes_overrides = getattr(args, "takes_overrides", False)  # a command over a job's settings (plan)
    if rest or (overrides and job is None and not takes_overrides):
        parser.error(f"unrecognized arguments: {' '.join(rest or overrides)}")
    args.overrides = overrides
    if job is not None:
        return run_job(job, build_config(job, args, overrides))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      line: str | None = None) -> str:
    """Warnings as users read them: ``warning: <text>``, without Python's source line."""
    return f"warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    import warnings

    warnings.formatwarning = _one_line_warning
    parser = build_parser()
    try:
        return _dispatch(parser, argv)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
