"""The one exception type the CLI turns into a clean one-line message.

Raise :class:`UserError` (or a subclass) for anything a user got wrong: a bad file, a bad option value,
a missing folder. ``colormae.cli.main`` prints ``error: <message>`` and exits with status 2 instead of
showing a traceback. Programming errors keep their tracebacks.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input, reported as one clear line by the CLI."""
