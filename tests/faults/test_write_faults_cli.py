"""A read-only or full ``--out`` is one ``error:`` line naming the file (exit 2) for every writing command."""

from __future__ import annotations

import pytest
import torch
from mounts import assert_one_error_line, run_cli

TINY = ["model=mae_vit_micro_32px", "data=mnist5k", "num_workers=0", "bank_size=16", "pattern_size=16",
        "batch_size=8", "epochs=1", "max_steps=2", "device=cpu", "--no-progress"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from colormae.convert import export_colormae
    from colormae.models import create_mae

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "c.pt"
    export_colormae(create_mae("mae_vit_micro_32px"), path)
    return path


def test_read_only_out_pretrain(tmp_path):
    ro = tmp_path / "ro"
    result = run_cli(["pretrain", "--out", str(ro / "run"), *TINY], ro, read_only=True)
    assert_one_error_line(result, f"cannot write {ro / 'run'}", "read-only file system", "MB free on")


def test_read_only_out_linprobe(tmp_path, ckpt):
    ro = tmp_path / "ro"
    result = run_cli(["linprobe", str(ckpt), "--data", "mnist5k", "--limit", "40", "--epochs", "1",
                      "--num-workers", "0", "--out", str(ro / "probe"), "--no-progress", "--device", "cpu"],
                     ro, read_only=True)
    assert_one_error_line(result, f"cannot write {ro / 'probe'}", "read-only file system")


def test_read_only_out_viz(tmp_path):
    ro = tmp_path / "ro"
    result = run_cli(["viz", "masks", "-o", str(ro / "masks.png"), "--examples", "1"], ro, read_only=True)
    assert_one_error_line(result, f"cannot write {ro / 'masks.png'}", "read-only file system")


def test_read_only_out_convert(tmp_path, ckpt):
    ro = tmp_path / "ro"
    result = run_cli(["convert", str(ckpt), "--to", "timm", "-o", str(ro / "w.safetensors")], ro,
                     read_only=True)
    assert_one_error_line(result, f"cannot write {ro / 'w.safetensors'}", "read-only file system")


def test_full_disk_export_leaves_no_partial_file(tmp_path, ckpt):
    small = tmp_path / "small"
    result = run_cli(["convert", str(ckpt), "--to", "timm", "-o", str(small / "w.safetensors")], small,
                     size_kb=64)  # the encoder is ~300 kB
    line = assert_one_error_line(result, f"cannot write {small / 'w.safetensors'}", "no space left on device",
                                 "MB free on")
    assert "free space there" in line
    assert not list(small.iterdir())  # unmounted again: nothing was written to the folder underneath


def test_full_disk_checkpoint_keeps_the_last_good_one(tmp_path):
    small = tmp_path / "small"
    result = run_cli(["pretrain", "--out", str(small / "run"), *TINY], small, size_kb=200)
    assert_one_error_line(result, f"cannot write {small / 'run'}", "no space left on device")
