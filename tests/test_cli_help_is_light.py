"""``colormae --help`` and ``colormae JOB --help`` answer without importing torch (nor numpy's heavier
friends): the parser is built from the config dataclasses and the tool commands' own small modules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
CODE = """
import sys
from colormae.cli import main
try:
    main(sys.argv[1:])
except SystemExit as stop:
    assert stop.code == 0, stop.code
print("HEAVY=" + ",".join(m for m in ("torch", "torchvision", "timm", "scipy", "matplotlib", "safetensors")
                          if m in sys.modules))
"""


@pytest.mark.parametrize("args", [["--help"], ["pretrain", "--help"], ["linprobe", "--help"],
                                  ["detect", "--help"], ["patterns", "generate", "--help"],
                                  ["viz", "masks", "--help"], ["data", "stats", "--help"]])
def test_help_imports_no_torch(args):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", CODE, *args], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: colormae" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "HEAVY=", done.stdout.splitlines()[-1]
