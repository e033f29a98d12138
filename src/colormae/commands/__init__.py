"""CLI sub-commands; each module has ``register(subparsers)`` (see :mod:`colormae.cli`)."""
