"""Every file colormae writes goes through ``colormae.files``: a write the disk refuses is one
:class:`~colormae.files.WriteFailed` line with the previous file intact and no partial one, and the file
gets the umask's permissions (not safetensors' 0600)."""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from colormae.files import WriteFailed

SRC = Path(__file__).resolve().parents[2] / "src" / "colormae"
#: A call that writes a file (by name, or into the handle / temporary path ``colormae.files`` gives).
RAW_WRITE = re.compile(r"\.write_text\(|\.write_bytes\(|savefig\(|save_file\(|json\.dump\(|torch\.save\(|"
                       r"np\.savez?\(|(?<!self)\.save\(")
#: Writes into what ``atomic_write`` / ``atomic_path`` hand out (a callback's ``fh``, ``tmp``) or memory.
SAFE_TARGET = re.compile(r"\b(fh|tmp|buffer)\b|lambda \w+(, \w+=[^:]+)?:")
#: Opening a file to write: never safe (a crash leaves it cut short).
RAW_OPEN = re.compile(r"\bopen\([^)]*[\"'][wax]b?\+?[\"']")
#: The writes that stay as they are, and why.
ALLOWED = {
    ("train/arms.py", "task.write_bytes(pickle.dumps(call))"): "its own private temporary folder",
    ("train/arms.py", "Path(result).write_bytes(pickle.dumps(out))"): "its own private temporary folder",
    ("pretrain/plan.py", 'Path("/proc/self/clear_refs").write_text("5")'): "a kernel control file",
    ("train/metrics.py", 'open(run_dir / METRICS_FILE, "a"'): "an append-only log (whole lines)",
    ("train/job.py", '(self.out / EVAL_FILE).open("a")'): "an append-only log (whole lines)",
    ("pretrain/run.py", 'path.open("a", encoding="utf-8")'): "an append-only log (whole lines)",
    ("commands/patterns.py", "bank.save(args.out"): "PatternBank.save writes atomically",
}


def test_no_writer_bypasses_colormae_files():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == "files.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#")[0]
            if code.lstrip().startswith(('"', "'", "`")):  # a docstring's line
                continue
            if not RAW_OPEN.search(code) and (not RAW_WRITE.search(code) or SAFE_TARGET.search(code)):
                continue
            if not any(rel == where and snippet in code for where, snippet in ALLOWED):
                found.append(f"{rel}:{number}: {line.strip()}")
    assert not found, "write these through colormae.files.atomic_write / atomic_path:\n" + "\n".join(found)


@pytest.fixture
def full_disk(monkeypatch):
    """Every atomic write fails as on a full disk: at the rename that would publish the file."""
    def refuse(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", refuse)


def _model():
    from colormae.models import create_mae

    torch.manual_seed(0)
    return create_mae("mae_vit_micro_32px").eval()


def _features(cache: Path):
    from colormae.eval.features import cached_features

    data = TensorDataset(torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 0, 1]))
    return cached_features(_model(), data, cache_dir=cache, key="k", batch_size=4, progress=False)


def _figure(path: Path) -> Path:
    from colormae.viz.style import pyplot, save_figure

    fig = pyplot().figure(figsize=(1, 1))
    fig.gca().plot([0, 1], [1, 0])
    return save_figure(fig, path)


def _results(path: Path) -> Path:
    from colormae.eval.results import write_results

    return write_results(path, {"top1": 1.0})


def _label_png(path: Path) -> Path:
    from colormae.dense.evaluate import save_label_png

    save_label_png(torch.arange(16).reshape(4, 4), path)
    return path


def _sweep_settings(path: Path) -> Path:
    from colormae.experiments.sweep import _check_same_settings
    from colormae.jobs.sweep import SweepConfig

    _check_same_settings(path, SweepConfig(out=str(path.parent)))
    return path


WRITERS = {"results.json": _results, "figure.png": _figure, "labels.png": _label_png,
           "sweep.json": _sweep_settings}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_a_refused_write_is_one_line_and_keeps_the_old_file(tmp_path, name, request):
    path = tmp_path / "out" / name
    path.parent.mkdir()
    path.write_bytes(b"{\"previous\": 1}\n")
    request.getfixturevalue("full_disk")
    with pytest.raises(WriteFailed) as info:
        WRITERS[name](path)
    assert str(info.value).startswith(f"cannot write {path}: no space left on device (")
    assert "\n" not in str(info.value)
    assert path.read_bytes() == b"{\"previous\": 1}\n"
    assert [p.name for p in path.parent.iterdir()] == [name]  # no temporary left behind


def test_the_feature_cache_is_written_atomically(tmp_path, full_disk):
    with pytest.raises(WriteFailed, match="no space left on device"):
        _features(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_scenes_export_is_written_atomically(tmp_path, full_disk):
    from colormae.dense.detect.scenes_coco import export_scenes

    with pytest.raises(WriteFailed, match="no space left on device"):
        export_scenes(tmp_path / "coco", size=32, lengths={"train": 1, "val": 1})
    assert not (tmp_path / "coco" / "scenes.json").exists()
    assert not [p for p in (tmp_path / "coco").rglob("*") if p.is_file()]


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_every_written_file_follows_the_umask(tmp_path, umask_022):
    feats, labels = _features(tmp_path / "cache")
    (cached,) = (tmp_path / "cache").iterdir()
    again, _ = _features(tmp_path / "cache")  # and the file reads back as the cache
    assert torch.equal(feats, again)
    files = [cached, *(WRITERS[name](tmp_path / name) for name in sorted(WRITERS))]
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in files}
    assert set(modes.values()) == {"0o644"}, modes
    assert json.loads((tmp_path / "results.json").read_text()) == {"top1": 1.0}


def test_embed_output_follows_the_umask(tmp_path, tiny_folder, umask_022):
    from colormae.config import load_config
    from colormae.eval.embed import embed
    from colormae.jobs.embed import EmbedConfig

    out = tmp_path / "feats.safetensors"
    result = embed(load_config(EmbedConfig, values=dict(
        ckpt="random:mae_vit_micro_32px", data=str(tiny_folder), out=str(out), num_workers=0,
        progress=False)))
    assert result.rows == 36
    assert {oct(p.stat().st_mode & 0o777) for p in (out, result.files)} == {"0o644"}


def test_the_scenes_export_writes_pngs_that_read_back(tmp_path):
    from PIL import Image

    from colormae.dense.detect.scenes_coco import export_scenes

    root = export_scenes(tmp_path / "coco", size=32, lengths={"train": 2, "val": 1})
    pngs = sorted((root / "images").rglob("*.png"))
    assert len(pngs) == 3 and np.asarray(Image.open(pngs[0])).shape[:2] == (32, 32)
    annotations = json.loads((root / "annotations" / "instances_train.json").read_text())
    assert [im["file_name"] for im in annotations["images"]] == [p.name for p in pngs if "train" in str(p)]


def test_the_hf_export_is_written_whole_or_not_at_all(tmp_path, monkeypatch, umask_022):
    """``export_hf`` (``convert --to hf``): a failure part-way leaves the earlier export as it was and no
    temporary folder; a success replaces it, files and folder with umask permissions; a folder holding
    other files is refused in one line."""
    import colormae.files as files
    from colormae.convert.api import export_hf
    from colormae.errors import UserError

    dst = tmp_path / "hf"
    export_hf(_model(), dst, data={"mean": [0.5] * 3, "std": [0.2] * 3})
    before = {p.name: p.read_bytes() for p in dst.iterdir()}
    assert set(before) == {"config.json", "model.safetensors", "preprocessor_config.json"}
    assert {oct(p.stat().st_mode & 0o777) for p in dst.iterdir()} == {"0o644"}
    assert oct(dst.stat().st_mode & 0o777) == "0o755"

    real = files.atomic_write

    def refuse_config(path, write, **kw):  # the config rewrite, after the weights are written
        if Path(path).name == "config.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, write, **kw)

    monkeypatch.setattr(files, "atomic_write", refuse_config)
    with pytest.raises(files.WriteFailed):
        export_hf(_model(), dst, data={"mean": [0.1] * 3, "std": [0.3] * 3})
    assert {p.name: p.read_bytes() for p in dst.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["hf"]  # no temporary folder left
    monkeypatch.undo()

    export_hf(_model(), dst)  # replaced whole: no preprocessor config without data
    assert {p.name for p in dst.iterdir()} == {"config.json", "model.safetensors"}
    assert [p.name for p in tmp_path.iterdir()] == ["hf"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="holds notes.txt, which an export does not write"):
        export_hf(_model(), tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (dst / "README.md").write_text("my model card")  # an earlier export with a file of the user's
    with pytest.raises(UserError, match="holds README.md, which"):
        export_hf(_model(), dst)
    assert (dst / "README.md").read_text() == "my model card"
