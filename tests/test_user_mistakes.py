"""Every user mistake found by trying colormae as a new user (issue 10) gives one ``error:`` line, exit 2,
no traceback, and loses nothing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colormae.cli import main

TINY = ["model=mae_vit_micro_32px", "data=mnist5k", "num_workers=0", "bank_size=16", "pattern_size=16",
        "batch_size=8", "epochs=1", "max_steps=2"]


def _checkpoint(path: Path, **edit) -> Path:
    from colormae.convert import export_colormae
    from colormae.models import create_mae

    torch.manual_seed(0)
    export_colormae(create_mae("mae_vit_micro_32px"), path)
    if edit:
        ckpt = torch.load(path, weights_only=True)
        for key, fn in edit.items():
            fn(ckpt[key])
        torch.save(ckpt, path)
    return path


def _folder(root: Path, classes: dict[str, tuple[str, ...]]) -> Path:
    for split, names in classes.items():
        for name in names:
            (root / split / name).mkdir(parents=True)
            for i in range(3):
                Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(root / split / name / f"{i}.png")
    return root


def wrong_shape(tmp: Path) -> list[str]:
    ckpt = _checkpoint(tmp / "c.pt", model_config=lambda c: c.update(embed_dim=32))
    return ["knn", str(ckpt), "--data", "mnist5k"]


def truncated(tmp: Path) -> list[str]:
    ckpt = _checkpoint(tmp / "c.pt")
    ckpt.write_bytes(ckpt.read_bytes()[:2000])
    return ["linprobe", str(ckpt)]


def diverged(tmp: Path) -> list[str]:
    ckpt = _checkpoint(tmp / "c.pt", model=lambda m: m["encoder.cls_token"].fill_(float("nan")))
    return ["knn", str(ckpt)]


def unknown_layout(tmp: Path) -> list[str]:
    torch.save({"foo.weight": torch.zeros(2, 2)}, tmp / "odd.pt")
    return ["knn", str(tmp / "odd.pt")]


def convert_into_folder(tmp: Path) -> list[str]:
    (tmp / "existing").mkdir()
    return ["convert", "random:mae_vit_micro_32px", "-o", str(tmp / "existing")]


def out_is_a_file(tmp: Path) -> list[str]:
    (tmp / "file").write_text("keep me")
    return ["pretrain", "--out", str(tmp / "file"), *TINY]


def missing_bank(tmp: Path) -> list[str]:
    return ["pretrain", "--out", str(tmp / "run"), *TINY, "bank=/no/such/bank.npz"]


def val_lacks_a_class(tmp: Path) -> list[str]:
    root = _folder(tmp / "data", {"train": ("cat", "dog", "fox"), "val": ("cat", "dog")})
    return ["linprobe", "random:mae_vit_micro_32px", "--data", str(root)]


def resume_other_masking(tmp: Path) -> list[str]:
    assert main(["pretrain", "--out", str(tmp / "run"), "--no-progress", *TINY]) == 0
    return ["pretrain", "--out", str(tmp / "run"), "--resume", "masking=red"]


def typo_in_a_key(tmp: Path) -> list[str]:
    return ["finetune", "random:mae_vit_micro_32px", "--out", str(tmp / "ft"), "layer_decy=0.5"]


CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "weights that do not fit the stored shape": (wrong_shape, "weights do not match its model_config"),
    "truncated checkpoint": (truncated, "truncated or corrupt"),
    "checkpoint of a diverged run": (diverged, "not finite"),
    "file of no known project": (unknown_layout, "colormae convert"),
    "convert -o an existing folder": (convert_into_folder, "an existing folder"),
    "--out names a file": (out_is_a_file, "exists and is not a directory"),
    "missing pattern bank": (missing_bank, "bank.npz"),
    "val/ lacks a class of train/": (val_lacks_a_class, "fox"),
    "--resume with another masking": (resume_other_masking, "masking='red' differs"),
    "a typo in a key": (typo_in_a_key, "did you mean 'layer_decay'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_mistake_is_one_line(case, tmp_path, capsys):
    make, message = CASES[case]
    argv = make(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    capsys.readouterr()
    assert main([*argv, "--no-progress"] if argv[0] in ("knn", "linprobe") else argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert "Traceback" not in err
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before  # nothing made, nothing lost
    shutil.rmtree(tmp_path / "run", ignore_errors=True)
