"""``colormae detect`` end to end on a fabricated COCO folder: the AP it reports is COCOeval's, the
results file is COCO's format, a resumed run is bit-exact."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_detect_data import make_coco

from colormae.cli import main
from colormae.dense.detect.evaluate import evaluate_results

TINY = ["random:mae_vit_micro_32px", "epochs=none", "batch_size=2", "num_workers=0", "img_size=32",
        "fpn_channels=8", "roi_batch=16", "window_size=4", "pyramid_scales=[1,0.5]", "detections_per_img=20",
        "--no-progress"]


def cocoeval(gt_json: Path, results: list[dict], iou_type: str) -> np.ndarray:
    """pycocotools' own evaluation, straight from the files."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_json))
        ev = COCOeval(gt, gt.loadRes(results), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def _same(reported: dict[str, float], stats: np.ndarray) -> None:
    for name, value in zip(("AP", "AP50", "AP75", "APs", "APm", "APl"), stats[:6], strict=True):
        expected = 100.0 * value if value >= 0 else -1.0
        assert reported[name] == pytest.approx(expected, abs=1e-6), name


def test_reported_ap_is_cocoeval(tmp_path: Path) -> None:
    make_coco(tmp_path / "coco")
    out = tmp_path / "run"
    assert main(["detect", *TINY, "--data", str(tmp_path / "coco"), "--out", str(out), "max_steps=2",
                 "score_thresh=0.0", "figure_images=2"]) == 0
    report = json.loads((out / "detect.json").read_text())
    results = json.loads((out / "detections_val.json").read_text())
    assert results and report["detections"] == len(results)
    for r in results:
        assert set(r) == {"image_id", "category_id", "bbox", "score", "segmentation"}
        assert r["category_id"] in (3, 7, 90) and r["image_id"] in range(100, 160, 10)
        assert len(r["bbox"]) == 4 and r["bbox"][2] >= 0 and 0 <= r["score"] <= 1
        assert r["segmentation"]["size"] == [40, 48] and isinstance(r["segmentation"]["counts"], str)
    gt_json = tmp_path / "coco" / "annotations" / "instances_val.json"
    _same(report["box"], cocoeval(gt_json, results, "bbox"))
    _same(report["mask"], cocoeval(gt_json, results, "segm"))
    assert (out / "detect.png").is_file() and (out / "eval.jsonl").is_file()
    ckpt = torch.load(out / "checkpoints" / "step-00000002.pt", weights_only=True)
    assert ckpt["kind"] == "detect" and ckpt["detector"]["cat_ids"] == [3, 7, 90]
    from colormae.transfer.detect import load_detector

    model, det = load_detector(out)
    assert det.num_classes == 3 and not model.training


def test_evaluation_equals_cocoeval_on_nontrivial_results(tmp_path: Path) -> None:
    data = make_coco(tmp_path / "coco")["val"]
    gt_json = tmp_path / "coco" / "annotations" / "instances_val.json"
    rng = np.random.default_rng(0)
    results = []
    for a in data["annotations"]:
        if a["iscrowd"]:
            continue
        for _ in range(2):  # a near hit and a far miss, some with the wrong class
            x, y, w, h = a["bbox"]
            jitter = rng.normal(0, 1.5, 4)
            results.append({"image_id": a["image_id"], "category_id": int(rng.choice([3, 7, 90])),
                            "bbox": [x + jitter[0], y + jitter[1], max(1.0, w + jitter[2]),
                                     max(1.0, h + jitter[3])],
                            "score": float(rng.uniform())})
    reported = evaluate_results(gt_json, results, masks=False)
    stats = cocoeval(gt_json, results, "bbox")
    assert 0 < stats[0] < 1
    _same(reported["box"], stats)
    perfect = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0,
                "segmentation": a["segmentation"]} for a in data["annotations"] if not a["iscrowd"]]
    scores = evaluate_results(gt_json, perfect, masks=True)
    assert scores["box"]["AP"] == pytest.approx(100.0) and scores["mask"]["AP"] == pytest.approx(100.0)
    assert evaluate_results(gt_json, [], masks=False)["box"]["AP"] == 0.0


def test_resume_is_bit_exact_without_masks(tmp_path: Path) -> None:
    from colormae.config import load_config
    from colormae.jobs.detect import DetectConfig
    from colormae.transfer.detect import detect

    make_coco(tmp_path / "coco")
    common = [*TINY, "--data", str(tmp_path / "coco"), "--no-masks", "max_steps=2", "figure_images=0"]
    assert main(["detect", *common, "--out", str(tmp_path / "full")]) == 0
    cfg = load_config(DetectConfig, values={
        "ckpt": TINY[0], "epochs": None, "batch_size": 2, "num_workers": 0, "img_size": 32,
        "fpn_channels": 8, "roi_batch": 16, "window_size": 4, "pyramid_scales": [1, 0.5], "progress": False,
        "detections_per_img": 20, "data": str(tmp_path / "coco"), "masks": False, "max_steps": 2,
        "figure_images": 0,
        "out": str(tmp_path / "part")})
    detect(cfg, stop_at_step=1)
    assert main(["detect", "--out", str(tmp_path / "part"), "--resume", "--no-progress"]) == 0
    full = torch.load(tmp_path / "full" / "checkpoints" / "step-00000002.pt", weights_only=True)["model"]
    part = torch.load(tmp_path / "part" / "checkpoints" / "step-00000002.pt", weights_only=True)["model"]
    assert full.keys() == part.keys() and all(torch.equal(full[k], part[k]) for k in full)
    report = json.loads((tmp_path / "part" / "detect.json").read_text())
    assert "mask" not in report and report["steps"] == 2
    results = json.loads((tmp_path / "part" / "detections_val.json").read_text())
    assert all("segmentation" not in r for r in results)
