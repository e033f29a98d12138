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
import difflib
import importlib
import re
import sys
from collections.abc import Iterable, Sequence

from colormae import __version__
from colormae.errors import UserError

#: Tool commands (not jobs), listed after the jobs by ``--help``.
COMMANDS: tuple[str, ...] = ("plan", "patterns", "data", "convert", "inspect", "viz")


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to ``word`` (:mod:`difflib`), else ``""``."""
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Parser(argparse.ArgumentParser):
    """argparse with a "did you mean" for a mistyped command or choice (argparse has it from Python 3.14)."""

    def error(self, message: str) -> None:  # type: ignore[override]  # noqa: D102 - argparse's API
        found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if found:
            choices = re.findall(r"'([^']*)'", found.group(2)) or found.group(2).split(", ")
            message += did_you_mean(found.group(1), choices)
        super().error(message)


def _unknown_flags(parser: argparse.ArgumentParser, command: str | None, rest: list[str]) -> str:
    """``unrecognized arguments: ...`` with a hint for the first mistyped ``--flag`` of ``command``."""
    message = f"unrecognized arguments: {' '.join(rest)}"
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    target = sub.choices.get(command, parser) if sub is not None and command else parser
    known = [opt for action in target._actions for opt in action.option_strings]
    for token in rest:
        if token.startswith("--"):
            hint = did_you_mean(token.split("=", 1)[0], known)
            if hint:
                return message + hint
    return message


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every job and command registered."""
    from colormae.commands.jobs import JOBS, register

    parser = Parser(
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
        parser.error(_unknown_flags(parser, getattr(args, "command", None), rest or overrides))
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


def _refused_write(err: Exception) -> UserError | None:
    """A full / read-only / forbidden destination as one line (:func:`colormae.files.disk_error`)."""
    from colormae.files import disk_error

    return disk_error(err)


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
    except Exception as err:  # the last net: a destination that refused a write is the user's to fix
        failed = _refused_write(err)
        if failed is None:
            raise
        print(f"error: {failed}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
