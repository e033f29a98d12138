"""``colormae segment`` end to end on CPU: built-in scenes from a pretrained and a random encoder,
an ADE20K-layout folder with --save-predictions, and bit-exact --resume."""

import json

import numpy as np
import pytest
import torch
from fabricate import SIZES, make_ade, make_generic
from PIL import Image

from colormae.cli import main
from colormae.config import load_config
from colormae.jobs.segment import SegmentConfig
from colormae.loading import load

FAST = ["num_workers=0", "batch_size=4", "channels=8", "aux_channels=8", "--no-progress", "figure=2"]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("pre") / "run"
    assert main(["pretrain", "--out", str(out), "model=mae_vit_micro_32px", "data=mnist5k", "max_steps=3",
                 "batch_size=8", "num_workers=0", "--no-progress"]) == 0
    return out


@pytest.mark.slow  # a pretraining and two segmentation runs with 200-scene evaluations: about a minute alone
def test_scenes_from_pretrained_and_random(tmp_path, pretrained):
    results = {}
    # seed 1 for the random encoder: with seed 0 it would start from the very weights pretraining started from
    for name, ckpt, seed in (("pretrained", str(pretrained), 0), ("random", "random:mae_vit_micro_32px", 1)):
        out = tmp_path / name
        assert main(["segment", ckpt, "--out", str(out), "max_steps=3", "log_every=1", f"seed={seed}",
                     *FAST]) == 0
        res = json.loads((out / "segment.json").read_text())
        assert res["steps"] == 3 and res["num_classes"] == 11 and len(res["IoU"]) == 11
        assert 0 <= res["mIoU"] <= 100 and 0 <= res["aAcc"] <= 100
        assert (out / "segment.png").is_file()
        lines = (out / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(x)["step"] for x in lines] == [1, 2, 3]
        ckpt_obj = torch.load(out / "checkpoints" / "step-00000003.pt", weights_only=False)
        assert ckpt_obj["kind"] == "segment" and ckpt_obj["model_config"]["segment"]["num_classes"] == 11
        results[name] = ckpt_obj
        loaded = load(out)  # the one loader rebuilds the segmentation model
        assert loaded.kind == "segment" and loaded.model(torch.zeros(1, 3, 32, 32)).shape == (1, 11, 32, 32)
    # the pretrained run started from the pretraining encoder: its patch embedding is far closer to it
    pre = torch.load(next((pretrained / "checkpoints").glob("*.pt")), weights_only=False)["model"]
    start = pre["encoder.patch_embed.proj.weight"]
    dist = {k: float((v["model"]["backbone.vit.patch_embed.proj.weight"] - start).norm()) for k,
            v in results.items()}
    assert dist["pretrained"] < 0.1 * dist["random"]


def test_ade20k_folder_and_save_predictions(tmp_path):
    data = tmp_path / "ADEChallengeData2016"
    make_ade(data)
    preds = tmp_path / "preds"
    out = tmp_path / "run"
    assert main(["segment", "random:mae_vit_micro_32px", "--data", str(data), "--out", str(out),
                 "--save-predictions", str(preds), "max_steps=2", "crop_size=16", *FAST, "batch_size=2"]) == 0
    res = json.loads((out / "segment.json").read_text())
    assert res["num_classes"] == 150 and res["mode"] == "slide"
    files = sorted(p.name for p in preds.iterdir())
    assert files == [f"ADE_validation_{i:08d}.png" for i in range(3)]
    for i, size in enumerate(SIZES):  # one label map per val image, at its annotation's size
        with Image.open(preds / f"ADE_validation_{i:08d}.png") as im:
            assert im.size == size and int(np.asarray(im).max()) < 150


def test_resume_is_bit_exact(tmp_path):
    from colormae.transfer.segment import segment

    data = tmp_path / "data"
    make_generic(data)

    def cfg(out, *extra):
        return load_config(SegmentConfig, overrides=["ckpt=random:mae_vit_micro_32px", f"out={out}",
                                                     f"data={data}", "crop_size=16", "batch_size=2",
                                                     "max_steps=4", "warmup_steps=2", "ckpt_every=2",
                                                     "num_workers=0", "channels=8",
                                                     "aux_channels=8", "progress=false", "figure=0", *extra])

    straight = segment(cfg(tmp_path / "a"))
    segment(cfg(tmp_path / "b"), stop_at_step=2)
    resumed = segment(cfg(tmp_path / "b", "resume=auto"))
    a = torch.load(straight["checkpoint"], weights_only=False)["model"]
    b = torch.load(resumed["checkpoint"], weights_only=False)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert straight["mIoU"] == resumed["mIoU"]


def test_train_images_takes_an_evenly_spaced_part_of_the_train_split(tmp_path):
    from colormae.data.subset import evenly_spaced
    from colormae.errors import UserError
    from colormae.transfer.segment import segment

    assert evenly_spaced(10, 4) == [0, 3, 6, 9] and evenly_spaced(3, 5) == [0, 1, 2]
    cfg = load_config(SegmentConfig, values={"ckpt": "random:mae_vit_micro_32px", "out": str(tmp_path / "r"),
                                             "train_images": 5, "batch_size": 8, "device": "cpu"})
    with pytest.raises(UserError, match="5 training images are too few for an effective batch of 8"):
        segment(cfg)
