"""Frozen and partial encoders in the classification jobs: ``finetune --freeze-encoder`` / ``--freeze-blocks
N`` leave exactly the frozen tensors bit-identical after training, and probes read any block (``--layer``)."""

import json

import pytest
import torch

from colormae.cli import main
from colormae.config import load_config
from colormae.eval.finetune import finetune
from colormae.jobs.finetune import FinetuneConfig
from colormae.loading import load
from colormae.train.checkpoint import load_checkpoint

ARGS = dict(epochs=1, batch_size=8, num_workers=0, progress=False, seed=3, ckpt_every=1, keep_last=0)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A pretraining checkpoint of the 2-block micro MAE and its encoder's tensors."""
    from colormae.convert import export_colormae
    from colormae.models import create_mae

    torch.manual_seed(7)
    path = tmp_path_factory.mktemp("src") / "run" / "checkpoints" / "step-00000001.pt"
    export_colormae(create_mae("mae_vit_micro_32px"), path)
    return path, {k: v.clone() for k, v in load(path).mae().encoder.state_dict().items()}


def _finetune(tmp_path, tiny_folder, source, name, **kw):
    out = tmp_path / name
    res = finetune(load_config(FinetuneConfig, values={**ARGS, "ckpt": str(source[0]), "out": str(out),
                                                       "data": str(tiny_folder), **kw}))
    steps = sorted((out / "checkpoints").glob("step-*.pt"))
    assert len(steps) == res["steps"] == 3  # 24 images, batch 8, one epoch: a checkpoint after each step
    return res, load_checkpoint(steps[0])["model"], load_checkpoint(steps[-1])["model"]


def test_freeze_encoder_keeps_every_encoder_tensor_and_trains_the_head(tmp_path, tiny_folder, source):
    res, first, last = _finetune(tmp_path, tiny_folder, source, "frozen", freeze_encoder=True)
    encoder = source[1]
    body = [k for k in last if not k.startswith(("head.", "fc_norm."))]
    assert body and set(body) <= set(encoder)
    for key in body:  # every tensor of the encoder, buffers included, as it was loaded
        assert torch.equal(last[key], encoder[key]) and torch.equal(first[key], encoder[key]), key
    # MAE's linear-probe convention: fc_norm (fresh) is frozen too, at its init
    assert torch.equal(last["fc_norm.weight"], torch.ones(64))
    assert torch.equal(last["fc_norm.bias"], torch.zeros(64))
    # the head learned between steps 1 and 3
    assert not torch.equal(first["head.weight"], last["head.weight"])
    assert not torch.equal(first["head.bias"], last["head.bias"])
    assert res["trainable_params"] == 64 * 3 + 3


def test_freeze_blocks_keeps_exactly_the_first_blocks(tmp_path, tiny_folder, source):
    res, _, last = _finetune(tmp_path, tiny_folder, source, "partial", freeze_blocks=1, drop_path=0.2)
    encoder = source[1]
    frozen = [k for k in last if k.startswith(("cls_token", "pos_embed", "patch_embed.", "blocks.0."))]
    moved = [k for k in last if k.startswith("blocks.1.")]
    assert frozen and moved
    assert all(torch.equal(last[k], encoder[k]) for k in frozen)
    assert not any(torch.equal(last[k], encoder[k]) for k in moved)  # every tensor of block 1 trained
    total, fixed = sum(v.numel() for v in last.values()), sum(last[k].numel() for k in frozen)
    assert res["trainable_params"] == total - fixed
    saved = json.loads((tmp_path / "partial" / "finetune.json").read_text())
    assert saved["trainable_params"] == total - fixed


def test_freeze_settings_are_checked(tmp_path, tiny_folder, source, capsys):
    common = ["finetune", str(source[0]), "--data", str(tiny_folder), "--no-progress", "epochs=1",
              "batch_size=8", "num_workers=0"]
    assert main([*common, "--out", str(tmp_path / "a"), "--freeze-blocks", "3"]) == 2
    assert "--freeze-blocks 3: the encoder has 2 blocks; give 0..2" in capsys.readouterr().err
    assert main([*common, "--out", str(tmp_path / "b"), "--freeze-blocks", "1", "--freeze-encoder"]) == 2
    assert "not both" in capsys.readouterr().err


def test_block_tokens_equal_a_truncated_encoder():
    """``--layer K`` reads the tokens after block K, normed by the final norm: exactly what the encoder cut
    after block K gives; the last block (``-1``) is ``forward_features`` itself."""
    import copy

    from colormae.models import create_mae
    from colormae.train.knn import block_tokens, encode

    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px", depth=3).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(block_tokens(mae, x, -1), mae.forward_features(x))
        assert torch.equal(block_tokens(mae, x, 2), mae.forward_features(x))
        for k in (0, 1):
            cut = copy.deepcopy(mae)
            cut.encoder.blocks = cut.encoder.blocks[:k + 1]
            assert torch.equal(block_tokens(mae, x, k), cut.forward_features(x)), k
            assert torch.equal(block_tokens(mae, x, k - 3), block_tokens(mae, x, k))
        mean = encode(mae, x, "mean", 0)
        assert torch.equal(mean, block_tokens(mae, x, 0)[:, 1:].mean(1))


def test_probes_at_a_layer_record_it_and_key_the_cache(tmp_path, tiny_folder, capsys):
    cache, out = tmp_path / "cache", tmp_path / "eval"
    common = ["random:mae_vit_micro_32px", "--data", str(tiny_folder), "--no-progress", "--device", "cpu",
              "--batch-size", "8", "--cache-dir", str(cache), "--k", "3"]
    runs = {}
    for name, extra in (("default", []), ("last", ["--layer", "-1"]), ("first", ["--layer", "0"]),
                        ("first_neg", ["layer=-2"])):
        assert main(["knn", *common, "--out", str(out / name), *extra]) == 0
        runs[name] = json.loads((out / name / "knn.json").read_text())
        runs[name]["files"] = len(list(cache.glob("*.safetensors")))
    assert [runs[n]["layer"] for n in runs] == [1, 1, 0, 0]
    # the default features keep the key they always had (-1 is the same block); block 0 is a new key,
    # and -2 of 2 blocks is block 0 again
    assert [runs[n]["files"] for n in runs] == [2, 2, 4, 4]
    assert runs["first"]["top1"] == runs["first_neg"]["top1"]
    assert main(["linprobe", *common[:-2], "--out", str(out / "lp"), "--layer", "0", "--epochs", "2",
                 "--warmup-epochs", "1"]) == 0
    lp = json.loads((out / "lp" / "linprobe.json").read_text())
    assert lp["layer"] == 0 and len(lp["history"]) == 2 and len(list(cache.glob("*.safetensors"))) == 4
    capsys.readouterr()
    assert main(["knn", *common, "--layer", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --layer 2: the encoder has 2 blocks") and "Traceback" not in err
