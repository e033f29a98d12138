"""The package's identity: one version, printed by the CLI, cited as the same; the license file is the one
pyproject.toml declares."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

import colormae

ROOT = Path(__file__).resolve().parents[1]


def test_cli_prints_the_package_version():
    out = subprocess.run([sys.executable, "-m", "colormae", "--version"], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == f"colormae {colormae.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+)?", colormae.__version__)


def test_version_is_written_once_and_cited_as_it():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and "\nversion =" not in pyproject.split("[tool.")[0]
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert str(citation["version"]) == colormae.__version__
    assert citation["preferred-citation"]["title"].startswith("ColorMAE")


def test_license_is_apache_2():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()
