"""Layer decay: every block gets decay ** (depth + 1 - layer) of the peak lr, via timm's groups."""

import pytest
import torch

from colormae.eval.layer_decay import finetune_optimizer, lr_scales_by_name
from colormae.models import create_mae
from colormae.models.classifier import classifier_from_mae


@pytest.mark.parametrize("pool", ["avg", "token"])
def test_each_block_gets_its_scale(pool):
    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px", depth=4)
    clf = classifier_from_mae(mae, 10, global_pool=pool)
    opt = finetune_optimizer(clf, lr=1e-3, layer_decay=0.65)
    scales = lr_scales_by_name(opt, clf)
    assert set(scales) == {n for n, p in clf.named_parameters() if p.requires_grad}
    depth = 4
    for name, scale in scales.items():
        if name.startswith("blocks."):
            layer = int(name.split(".")[1]) + 1
        elif name.startswith(("cls_token", "pos_embed", "patch_embed")):
            layer = 0
        elif name.startswith("norm."):  # timm groups the final norm with the last block (MAE: head level)
            layer = depth
        else:  # fc_norm / head
            layer = depth + 1
        assert scale == pytest.approx(0.65 ** (depth + 1 - layer)), name
    assert scales["blocks.3.mlp.fc1.weight"] == pytest.approx(0.65)
    assert scales["head.weight"] == 1.0
    wd = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    assert wd[id(clf.head.weight)] == 0.05 and wd[id(clf.head.bias)] == 0.0 and wd[id(clf.pos_embed)] == 0.0


def test_classifier_copies_encoder():
    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px").eval()
    clf = classifier_from_mae(mae, 7, global_pool="token").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(clf.forward_features(x), mae.forward_features(x), rtol=0, atol=0)
        assert clf(x).shape == (2, 7)
    avg = classifier_from_mae(mae, 7, global_pool="avg")
    assert isinstance(avg.norm, torch.nn.Identity) and avg.fc_norm.weight.shape == (64,)


@pytest.mark.parametrize("model_kind", ["classifier", "segmentor"])
def test_same_groups_and_adamw_as_timm(model_kind):
    """The layer-decayed groups and AdamW are timm's create_optimizer_v2 ones, group by group."""
    from timm.optim import create_optimizer_v2

    torch.manual_seed(0)
    mae = create_mae("mae_vit_micro_32px", depth=4)
    if model_kind == "classifier":
        model = classifier_from_mae(mae, 10, global_pool="avg")
    else:
        from colormae.dense.segmentor import HeadConfig, segmentor_from_mae

        model = segmentor_from_mae(mae, HeadConfig(num_classes=3, crop=32, out_indices=(1, 2, 3, 3),
                                                   channels=8, aux_channels=8, classes=["a", "b", "c"]))
    ours = finetune_optimizer(model, 1e-3, weight_decay=0.05, layer_decay=0.65)
    theirs = create_optimizer_v2(model, opt="adamw", lr=1e-3, weight_decay=0.05, layer_decay=0.65,
                                 betas=(0.9, 0.999))
    assert type(ours) is type(theirs) and ours.defaults == theirs.defaults
    assert len(ours.param_groups) == len(theirs.param_groups)
    for a, b in zip(ours.param_groups, theirs.param_groups, strict=True):
        assert [id(p) for p in a["params"]] == [id(p) for p in b["params"]]
        assert {k: v for k, v in a.items() if k != "params"} == {k: v for k, v in b.items() if k != "params"}
