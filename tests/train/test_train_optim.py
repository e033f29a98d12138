"""AdamW parameter groups: no weight decay for norms, biases, tokens and position embeddings."""

import torch
from toy import TinyNet

from colormae.train.optim import build_adamw, param_groups


def test_groups_on_toy_net():
    groups = param_groups(TinyNet(), 0.05)
    by_wd = {g["weight_decay"]: sorted(g["names"]) for g in groups}
    assert by_wd == {0.05: ["fc1.weight", "fc2.weight"],
                     0.0: ["cls_token", "fc1.bias", "fc2.bias", "norm.bias", "norm.weight"]}


def test_groups_on_mae():
    from colormae.models import create_mae

    model = create_mae("mae_vit_micro_32px")
    opt = build_adamw(model, 1e-3, weight_decay=0.05)
    assert opt.defaults["betas"] == (0.9, 0.95)
    names = {n: g["weight_decay"] for g in opt.param_groups for n in g["names"]}
    assert set(names) == {n for n, p in model.named_parameters() if p.requires_grad}
    for name, param in model.named_parameters():
        if not param.requires_grad:  # fixed sin-cos position embeddings
            continue
        expect_decay = param.ndim > 1 and not any(t in name for t in ("token", "pos_embed"))
        assert names[name] == (0.05 if expect_decay else 0.0), name
    assert names["encoder.cls_token"] == 0.0 and names["mask_token"] == 0.0
    assert any(wd == 0.05 and "attn.qkv.weight" in n for n, wd in names.items())


def test_lr_scale_groups():
    groups = param_groups(TinyNet(), 0.1, lr_scale=lambda n: 0.5 if n.startswith("fc1") else 1.0)
    scales = {n: g["lr_scale"] for g in groups for n in g["names"]}
    assert scales["fc1.weight"] == scales["fc1.bias"] == 0.5 and scales["fc2.weight"] == 1.0
    assert sum(len(g["params"]) for g in groups) == len(list(TinyNet().parameters()))
    assert torch.optim.AdamW(groups, lr=1.0)  # extra keys are accepted by torch


def test_no_weight_decay_names_are_honoured():
    """A 2-D parameter named by ``no_weight_decay()`` (timm's convention) gets no decay."""
    from torch import nn

    from colormae.train.optim import param_groups

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = nn.Parameter(torch.zeros(4, 4))
            self.weight = nn.Parameter(torch.zeros(4, 4))

        def no_weight_decay(self) -> set[str]:
            return {"table"}

    groups = {g["weight_decay"]: g["names"] for g in param_groups(Net(), 0.05)}
    assert groups == {0.0: ["table"], 0.05: ["weight"]}
