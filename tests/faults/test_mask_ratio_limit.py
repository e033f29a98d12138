"""A mask ratio that leaves no visible patch is refused in one line naming the largest valid ratio."""

from __future__ import annotations

import pytest
import torch

from colormae.cli import main
from colormae.errors import UserError
from colormae.masking import build_masking, draw_masks
from colormae.masking.base import max_ratio, num_keep

TINY = ["model=mae_vit_micro_32px", "data=mnist5k", "num_workers=0", "bank_size=16", "pattern_size=16",
        "batch_size=8", "epochs=1", "max_steps=1", "device=cpu", "--no-progress", "masking=random"]


@pytest.mark.parametrize("patches", [64, 196, 49, 3])
def test_max_ratio_is_the_limit(patches):
    top = max_ratio(patches)
    assert num_keep(patches, top) == 1
    with pytest.raises(UserError, match=f"use at most mask_ratio={top:g}"):
        num_keep(patches, top + 1e-4 + (1 - top - 1 / patches) + 1e-9)


def test_masks_at_the_limit_keep_one_patch():
    strategy = build_masking("random", 0.984375)  # 8x8 grid: 63 of 64 masked
    masks = draw_masks(strategy, 2, (8, 8), generator=torch.Generator().manual_seed(0))
    assert masks.ids_keep.shape == (2, 1) and int((~masks.mask).sum()) == 2


def test_pretrain_refuses_a_ratio_past_the_limit(tmp_path, capsys):
    assert main(["pretrain", "--out", str(tmp_path / "run"), *TINY, "mask_ratio=0.99"]) == 2
    err = capsys.readouterr().err
    assert err == ("error: mask_ratio=0.99 leaves no visible patch of the 64-patch grid: use at most "
                   "mask_ratio=0.9843\n")
    assert main(["pretrain", "--out", str(tmp_path / "ok"), *TINY, "mask_ratio=0.9843"]) == 0
