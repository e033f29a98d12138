"""``python -m colormae`` (and ``torchrun -m colormae``) runs the CLI."""

import sys

from colormae.cli import main

sys.exit(main())
