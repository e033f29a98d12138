"""Must-show (issue 15): pretrain a tiny non-square model on 1-channel 16-bit PNGs, 4-band TIFFs and
6-channel .npy arrays, with the loss falling, then linprobe and viz recon on the result — all through the
CLI, channels from the data, the data set's own statistics."""

import json

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from colormae.cli import main
from colormae.viz.style import grid_pixels

H, W = 48, 32  # the model's (H, W); the files are larger and of another aspect


def _smooth(rng, channels, h=60, w=44):
    """Low-frequency random images (learnable in a few steps), one offset per class."""
    coarse = rng.random((channels, 4, 3))
    big = np.kron(coarse, np.ones((h // 4 + 1, w // 3 + 1)))[:, :h, :w]
    return np.clip(big + 0.05 * rng.standard_normal(big.shape), 0, 1)


def _write(kind, root, n_train=12, n_val=4):
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("val", n_val)):
        for c in ("a", "b"):
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                x = _smooth(rng, {"png16": 1, "tiff4": 4, "npy6": 6}[kind]) * (0.6 if c == "a" else 1.0)
                path = root / split / c / f"{i}"
                if kind == "png16":
                    Image.fromarray((x[0] * 60000).astype(np.uint16)).save(f"{path}.png")
                elif kind == "tiff4":
                    tifffile.imwrite(f"{path}.tif", (x * 65535).astype(np.uint16), photometric="minisblack",
                                     planarconfig="separate")
                else:
                    np.save(f"{path}.npy", x.astype(np.float32).transpose(1, 2, 0))  # (H, W, C)
    return root


@pytest.fixture
def one_thread():
    """One intra-op thread: the tiny model gains nothing from more, and a loaded machine loses a lot."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("kind,channels", [("png16", 1), ("tiff4", 4), ("npy6", 6)])
def test_pretrain_linprobe_and_recon_on_non_rgb_data(tmp_path, capsys, one_thread, kind, channels):
    data = _write(kind, tmp_path / "data")
    assert main(["data", "stats", str(data), "--no-progress"]) == 0
    stats = json.loads((data / "colormae_stats.json").read_text())
    assert stats["channels"] == channels

    run = tmp_path / "run"
    code = main(["pretrain", "--out", str(run), "--device", "cpu", "--no-progress", "--threads", "1",
                 "model=mae_vit_micro_32px", f"data={data}", f"img_size=[{H},{W}]", "normalize=dataset",
                 "masking=green", "bank_size=64", "pattern_size=32", "epochs=none", "max_steps=24",
                 "batch_size=8", "num_workers=0", "lr=0.002", "warmup_epochs=0", "log_every=1"])
    assert code == 0, capsys.readouterr().err
    losses = [r["loss"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
              if "loss" in r]
    assert len(losses) == 24 and np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4]), losses

    ckpt = torch.load(sorted((run / "checkpoints").glob("step-*.pt"))[-1], weights_only=True)
    assert ckpt["model_config"]["in_chans"] == channels and tuple(ckpt["model_config"]["img_size"]) == (H, W)
    assert ckpt["data"]["mean"] == stats["mean"] and ckpt["data"]["normalize"] == "dataset"
    assert ckpt["data"]["norm_pix_loss"] is True and ckpt["data"]["img_size"] == [H, W]

    capsys.readouterr()
    assert main(["linprobe", str(run), "--data", str(data), "--out", str(tmp_path / "eval"), "--no-progress",
                 "--device", "cpu", "--threads", "1", "epochs=5", "batch_size=8"]) == 0
    res = json.loads((tmp_path / "eval" / "linprobe.json").read_text())
    assert (res["train_size"], res["val_size"]) == (24, 8) and 0 <= res["top1"] <= 100

    if channels == 4:  # fine-tuning too: statistics and size from the checkpoint, stored in its own
        assert main(["finetune", str(run), "--data", str(data), "--out", str(tmp_path / "ft"),
                     "--device", "cpu", "--no-progress", "--threads", "1", "epochs=1", "batch_size=8",
                     "num_workers=0", "mixup=0", "cutmix=0"]) == 0
        ft = torch.load(sorted((tmp_path / "ft" / "checkpoints").glob("step-*.pt"))[-1], weights_only=True)
        assert ft["data"]["mean"] == stats["mean"] and ft["data"]["img_size"] == [H, W]

    bands = ["--bands", "3,2,1"] if channels == 6 else []
    out = tmp_path / "recon.png"
    assert main(["viz", "recon", str(run), str(data / "val"), "-o", str(out), "--num-images", "2",
                 "--maskings", "random,green", *bands]) == 0
    views = 1 if channels in (1, 6) else channels  # 1: grey; 6 with --bands: one RGB composite; 4: per band
    assert Image.open(out).size == grid_pixels(2 * 2 * views, 4)
