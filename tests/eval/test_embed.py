"""``colormae embed``: rows equal timm's features of the ``--to timm`` export on the same images, in the
order of the written file list; unreadable images skipped and listed; an interrupted run resumes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file
from torchvision import transforms as T

from colormae.cli import main
from colormae.convert.api import export_colormae
from colormae.data.normalization import Normalization, data_payload
from colormae.models import create_mae

#: Not ImageNet's: the rows must use the statistics the checkpoint records.
NORM = Normalization((0.3, 0.5, 0.2), (0.2, 0.3, 0.25), "dataset")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = create_mae("mae_vit_micro_32px")
    path = tmp_path_factory.mktemp("embed_ckpt") / "micro.pt"
    export_colormae(model, path, data=data_payload(NORM, norm_pix_loss=True, img_size=(32, 32)))
    return path


def _images(root: Path, sizes=((40, 36), (32, 32), (50, 64), (33, 45), (36, 36), (48, 40))) -> Path:
    """Images of various sizes in two class folders (so resizing and cropping matter)."""
    rng = np.random.default_rng(1)
    for i, (h, w) in enumerate(sizes):
        folder = root / ("cats" if i % 2 else "dogs")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"img{i}.png")
    return root


def _timm_model(export: Path):
    """The ``--to timm`` export loaded into timm the way its metadata says."""
    import timm

    with safe_open(str(export), framework="pt") as fh:
        meta = fh.metadata()
    model = timm.create_model(meta["timm_model"], pretrained=False, num_classes=0,
                              **json.loads(meta["timm_kwargs"]))
    model.load_state_dict(load_file(str(export)))
    return model.eval(), json.loads(meta["mean"]), json.loads(meta["std"])


def _reference_inputs(root: Path, names: list[str], mean, std) -> torch.Tensor:
    """The listed files through torchvision's resize (short side floor(32 / 0.875) = 36, as timm) + centre
    crop + normalisation with the export's mean / std."""
    tf = T.Compose([T.Resize(36, interpolation=T.InterpolationMode.BICUBIC, antialias=True), T.CenterCrop(32),
                    T.ToTensor(), T.Normalize(mean, std)])
    return torch.stack([tf(Image.open(root / n).convert("RGB")) for n in names])


def test_embed_equals_timm_forward_features_in_file_list_order(tmp_path, ckpt):
    root = _images(tmp_path / "imgs")
    export = tmp_path / "enc.safetensors"
    assert main(["convert", str(ckpt), "-o", str(export), "--to", "timm"]) == 0
    timm_model, mean, std = _timm_model(export)
    assert mean == list(NORM.mean) and std == list(NORM.std)
    outs = {}
    for feature in ("cls", "mean", "patch"):
        out = tmp_path / f"{feature}.safetensors"
        assert main(["embed", str(ckpt), str(root), "-o", str(out), "--feature", feature, "--no-progress",
                     "batch_size=4", "chunk_size=4", "num_workers=0"]) == 0
        outs[feature] = load_file(str(out))["features"]
    names = (tmp_path / "cls.files.txt").read_text().split()
    assert sorted(names) == sorted(str(p.relative_to(root)) for p in root.rglob("*.png"))
    x = _reference_inputs(root, names, mean, std)
    with torch.no_grad():
        tokens = timm_model.forward_features(x)
        timm_model.reset_classifier(0, global_pool="avg")  # built with token pooling: final norm, no fc_norm
        pooled = timm_model.forward_head(tokens, pre_logits=True)
    torch.testing.assert_close(outs["cls"], tokens[:, 0], atol=1e-4, rtol=0)
    torch.testing.assert_close(outs["mean"], pooled, atol=1e-4, rtol=0)
    torch.testing.assert_close(outs["patch"], tokens[:, 1:], atol=1e-4, rtol=0)
    assert outs["patch"].shape == (len(names), 64, 64)
    # a timm ViT *created* with global_pool='avg' is another head: no final norm, fc_norm after the mean
    import timm

    created = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0, global_pool="avg",
                                img_size=32, patch_size=4, embed_dim=64, depth=2, num_heads=4)
    assert isinstance(created.norm, torch.nn.Identity) and isinstance(created.fc_norm, torch.nn.LayerNorm)


def test_npy_output_and_unreadable_images_are_skipped_and_listed(tmp_path, ckpt, capsys):
    root = _images(tmp_path / "imgs")
    (root / "dogs" / "broken.png").write_bytes(b"not an image")           # dropped by the folder's scan
    good = root / "cats" / "img1.png"
    data = good.read_bytes()
    (root / "cats" / "truncated.png").write_bytes(data[: len(data) // 2])  # header reads, pixels do not
    out = tmp_path / "feats.npy"
    assert main(["embed", str(ckpt), str(root), "-o", str(out), "--no-progress", "chunk_size=3",
                 "num_workers=0"]) == 0
    assert "2 unreadable images skipped" in capsys.readouterr().out
    names = (tmp_path / "feats.files.txt").read_text().split()
    skipped = (tmp_path / "feats.skipped.txt").read_text().split()
    assert sorted(skipped) == ["cats/truncated.png", "dogs/broken.png"]
    assert len(names) == 6 and not set(names) & set(skipped)
    feats = np.load(out)
    assert feats.shape == (6, 64) and feats.dtype == np.float32
    export = tmp_path / "enc.safetensors"
    assert main(["convert", str(ckpt), "-o", str(export), "--to", "timm"]) == 0
    timm_model, mean, std = _timm_model(export)
    with torch.no_grad():
        ref = timm_model.forward_features(_reference_inputs(root, names, mean, std))[:, 0]
    np.testing.assert_allclose(feats, ref.numpy(), atol=1e-4, rtol=0)


def _dies_on(n: int, real, calls: list[int]):
    """``real`` that raises KeyboardInterrupt (Ctrl-C) on its ``n``-th call; ``calls`` counts them."""
    def wrapped(*a, **k):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*a, **k)

    return wrapped


def test_interrupted_run_keeps_its_chunks_and_continues(tmp_path, ckpt, monkeypatch):
    from colormae.eval import embed as embed_mod
    from colormae.eval import features

    root = _images(tmp_path / "imgs")
    args = ["embed", str(ckpt), str(root), "--no-progress", "chunk_size=2", "batch_size=2", "num_workers=0"]
    assert main([*args, "-o", str(tmp_path / "straight.safetensors")]) == 0
    calls: list[int] = []
    monkeypatch.setattr(features, "extract_features", _dies_on(3, features.extract_features, calls))
    out = tmp_path / "resumed.safetensors"
    assert main([*args, "-o", str(out)]) == 130
    assert not out.exists() and len(list((tmp_path / "resumed.safetensors.parts").glob("chunk-*"))) == 2
    calls.clear()
    result = embed_mod.embed(_config(ckpt, root, out))
    assert result.reused_chunks == 2 and result.chunks == 3 and len(calls) == 1
    straight = load_file(str(tmp_path / "straight.safetensors"))
    assert torch.equal(load_file(str(out))["features"], straight["features"])
    assert not (tmp_path / "resumed.safetensors.parts").exists()


def _config(ckpt: Path, root: Path, out: Path, **kw):
    from colormae.jobs.embed import EmbedConfig

    settings = {"chunk_size": 2, "batch_size": 2, "num_workers": 0, "progress": False, **kw}
    return EmbedConfig(ckpt=str(ckpt), data=str(root), out=str(out), **settings)


def test_user_mistakes_are_one_line(tmp_path, ckpt, capsys):
    root = _images(tmp_path / "imgs")
    assert main(["embed", str(ckpt), str(root), "-o", str(tmp_path / "f.csv")]) == 2
    assert "must end in .safetensors or .npy" in capsys.readouterr().err
    assert main(["embed", str(ckpt), str(tmp_path / "nowhere"), "-o", str(tmp_path / "f.npy")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_builtin_set_all_splits(tmp_path, ckpt):
    from colormae.eval.embed import embed

    res = embed(_config(ckpt, "photos", tmp_path / "p.safetensors", split="val", chunk_size=64))
    names = res.files.read_text().split()
    blob = load_file(str(res.out))
    assert res.rows == len(names) == blob["features"].shape[0] > 0
    assert names[0] == "photos/val/0" and torch.equal(blob["index"], torch.arange(res.rows))


def _rank_main(rank: int, world: int, port: int, ckpt: str, root: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    from colormae.cli import main as cli

    assert cli(["embed", ckpt, root, "-o", out, "--no-progress", "--device", "cpu", "chunk_size=4",
                "batch_size=2", "num_workers=0"]) == 0


@pytest.mark.slow
def test_two_process_gloo_equals_one_process(tmp_path, ckpt, free_port):
    import torch.multiprocessing as mp

    root = _images(tmp_path / "imgs")
    one = tmp_path / "one.safetensors"
    assert main(["embed", str(ckpt), str(root), "-o", str(one), "--no-progress", "num_workers=0"]) == 0
    two = tmp_path / "two.safetensors"
    mp.start_processes(_rank_main, args=(2, free_port(), str(ckpt), str(root), str(two)), nprocs=2,
                       join=True, start_method="spawn")
    torch.testing.assert_close(load_file(str(two))["features"], load_file(str(one))["features"], atol=1e-5,
                               rtol=0)
    assert (tmp_path / "two.files.txt").read_text() == (tmp_path / "one.files.txt").read_text()


def test_layer_gives_the_tokens_of_that_block_and_its_own_chunks(tmp_path, ckpt):
    """``layer=0``: the rows are the encoder's tokens after block 0 with the final norm applied (as the
    probes' ``--layer``), differ from the last block's, the metadata names the block, and a rerun with
    another layer re-encodes instead of keeping chunks written for the other block."""
    from colormae.eval.embed import embed
    from colormae.loading import load
    from colormae.train.knn import encode

    root = _images(tmp_path / "imgs")
    res = embed(_config(ckpt, root, tmp_path / "b0.safetensors", layer=0, feature="mean"))
    last = embed(_config(ckpt, root, tmp_path / "last.safetensors", layer=-1, feature="mean"))
    got, got_last = load_file(str(res.out))["features"], load_file(str(last.out))["features"]
    names = res.files.read_text().split()
    model = load(ckpt).model.eval()
    x = _reference_inputs(root, names, list(NORM.mean), list(NORM.std))
    vit = model.encoder
    with torch.no_grad():
        tokens = vit.norm(vit.blocks[0](vit._pos_embed(vit.patch_embed(x))))   # (N, 1 + L, D), block 0
    torch.testing.assert_close(got, tokens[:, 1:].mean(1), atol=1e-4, rtol=0)
    torch.testing.assert_close(got, encode(model, x, "mean", 0), atol=1e-4, rtol=0)
    torch.testing.assert_close(got_last, encode(model, x, "mean"), atol=1e-4, rtol=0)
    assert not torch.allclose(got, got_last, atol=1e-3)
    with safe_open(str(res.out), "pt") as f:
        assert f.metadata()["layer"] == "0"
    with safe_open(str(last.out), "pt") as f:
        assert f.metadata()["layer"] == "1"  # -1 of the micro model's two blocks
    # chunks left by an interrupted run of block 0 are not kept by a run of the last block
    from colormae.eval import features

    out = tmp_path / "again.safetensors"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(features, "extract_features", _dies_on(2, features.extract_features, []))
        with pytest.raises(KeyboardInterrupt):
            embed(_config(ckpt, root, out, layer=0, feature="mean"))
    assert len(list((tmp_path / "again.safetensors.parts").glob("chunk-*"))) == 1
    again = embed(_config(ckpt, root, out, feature="mean"))
    assert again.reused_chunks == 0 and torch.equal(load_file(str(out))["features"], got_last)
