"""Job settings: one config dataclass per command, each setting declared once with
:func:`colormae.config.setting`.

These modules are leaves: they import only :mod:`colormae.config` (and :mod:`colormae.jobs.common`), so the
implementations below the command line take them and the registry (:mod:`colormae.commands.jobs`) ties a
command to its config and its implementation.
"""
