"""The built-in scenes as a COCO detection set, the paper's config file, and the demo's detection step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from colormae.dense.detect.coco import CocoDetection, find_split
from colormae.dense.detect.scenes_coco import export_scenes
from colormae.dense.scenes import make_scene


def test_scenes_export_as_coco(tmp_path: Path) -> None:
    from pycocotools import mask as mask_util

    root = export_scenes(tmp_path / "scenes", size=32, lengths={"train": 4, "val": 3})
    stamp = (root / "scenes.json").stat().st_mtime_ns
    assert export_scenes(tmp_path / "scenes", size=32, lengths={"train": 4, "val": 3}) == root
    assert (root / "scenes.json").stat().st_mtime_ns == stamp  # the same scenes are not written twice
    val = CocoDetection(find_split(root, "val"), train=False)
    assert len(val) == 3 and val.cat_ids == list(range(1, 11)) and val.class_names[0] == "digit 0"
    for i in range(3):
        scene = make_scene("val", i, size=32)
        anns = val.coco.imgToAnns[val.ids[i]]
        assert len(anns) == len(scene.instances)
        for ann, inst in zip(anns, scene.instances, strict=True):
            x0, y0, x1, y1 = inst.box
            assert ann["category_id"] == inst.label and ann["bbox"] == [x0, y0, x1 - x0, y1 - y0]
            assert np.array_equal(mask_util.decode(ann["segmentation"]).astype(bool), inst.mask)
        image, _ = val[i]
        assert np.array_equal((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8),
                              np.asarray(scene.image))


def test_paper_config_is_vitdets_schedule() -> None:
    from colormae.config import load_config
    from colormae.jobs.detect import DetectConfig

    path = Path(__file__).parents[2] / "configs" / "detect_maskrcnn_vitdet_base_coco.yaml"
    cfg = load_config(DetectConfig, path)
    assert [round(f * cfg.max_steps) for f in cfg.lr_milestones] == [163889, 177546]
    assert (cfg.img_size, cfg.window_size, cfg.global_blocks, cfg.lr, cfg.weight_decay, cfg.layer_decay) == (
        1024, 14, (2, 5, 8, 11), 1e-4, 0.1, 0.7)
    assert cfg.batch_size * 8 == 64 and cfg.scale_range == (0.1, 2.0) and cfg.warmup_steps == 250


@pytest.mark.slow
def test_demo_detect_quick(tmp_path: Path) -> None:
    from colormae.transfer.demo import demo_dense

    # the demo itself runs boxes only; the mask path is checked here
    res = demo_dense("detect", "random:mae_vit_micro_32px", tmp_path, device="cpu", quick=True,
                     progress=False, masks=True)
    assert set(res) >= {"pretrained", "random_init", "pretrained_mask_AP", "random_init_mask_AP"}
    assert res["random_init_run"] == str(tmp_path / "detect-random")
    for run in ("detect", "detect-random"):
        assert (tmp_path / run / "detect.png").is_file()
