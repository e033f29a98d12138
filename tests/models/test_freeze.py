"""Frozen parts (models/freeze.py): no gradient, left out of the optimizer, eval mode through ``train()``,
and the layer-decay scales of what still trains unchanged."""

import copy

import pytest
import torch

from colormae.errors import UserError
from colormae.eval.layer_decay import finetune_optimizer, lr_scales_by_name
from colormae.models import create_mae
from colormae.models.classifier import classifier_from_mae
from colormae.models.freeze import freeze, freeze_vit, is_frozen, trainable_fraction


def _classifier(pool="avg", drop_path=0.0):
    torch.manual_seed(0)
    return classifier_from_mae(create_mae("mae_vit_micro_32px", depth=4), 5, global_pool=pool,
                               drop_path_rate=drop_path)


def test_freeze_blocks_freezes_exactly_the_stem_and_the_first_blocks():
    clf = _classifier()
    frozen = freeze_vit(clf, 2)
    expected = {n for n, _ in clf.named_parameters()
                if n.startswith(("patch_embed.", "cls_token", "pos_embed", "blocks.0.", "blocks.1."))}
    assert set(frozen) == expected
    assert {n for n, p in clf.named_parameters() if p.requires_grad} == {
        n for n, _ in clf.named_parameters()} - expected
    clf.train()  # what the training loop does at its start: the frozen parts stay in eval mode
    assert [b.training for b in clf.blocks] == [False, False, True, True]
    assert not clf.patch_embed.training and not clf.pos_drop.training and clf.head.training
    assert clf.training and clf.fc_norm.training
    assert is_frozen(clf.blocks[0]) and not is_frozen(clf.blocks[2])


def test_freeze_encoder_leaves_only_the_head():
    for pool in ("avg", "token"):
        clf = _classifier(pool)
        freeze_vit(clf, None)
        assert {n for n, p in clf.named_parameters() if p.requires_grad} == {"head.weight", "head.bias"}
        trainable, total = trainable_fraction(clf)
        assert trainable == clf.head.weight.numel() + clf.head.bias.numel() and total > 10 * trainable
        clf.train()
        assert clf.head.training and not any(m.training for m in (clf.blocks, clf.norm, clf.fc_norm))


def test_frozen_blocks_run_without_drop_path_and_stay_frozen_in_a_copy():
    """Drop path is on in training mode; a frozen block ignores it (eval mode), so the frozen prefix gives
    the same tokens twice even under ``train()``; an EMA's deep copy keeps the freeze."""
    clf = _classifier(drop_path=0.5)
    freeze_vit(clf, 4)  # every block
    clf.train()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        a, b = clf.forward_features(x), clf.forward_features(x)
    assert torch.equal(a, b)
    twin = copy.deepcopy(clf)
    twin.train()
    assert not twin.blocks[3].training and is_frozen(twin.blocks[3])


def test_optimizer_skips_frozen_parameters_and_keeps_layer_decay():
    plain = _classifier()
    reference = lr_scales_by_name(finetune_optimizer(plain, lr=1e-3, layer_decay=0.65), plain)
    clf = _classifier()
    freeze_vit(clf, 2)
    scales = lr_scales_by_name(finetune_optimizer(clf, lr=1e-3, layer_decay=0.65), clf)
    assert set(scales) == {n for n, p in clf.named_parameters() if p.requires_grad}
    assert scales == {n: reference[n] for n in scales}  # the unfrozen part keeps its layer-decay scale
    assert scales["blocks.2.mlp.fc1.weight"] == pytest.approx(0.65 ** 2)


def test_frozen_tensors_do_not_move_in_training_steps():
    clf = _classifier(drop_path=0.1)
    freeze_vit(clf, 3)
    before = {k: v.clone() for k, v in clf.state_dict().items()}
    opt = finetune_optimizer(clf, lr=1e-2, layer_decay=0.75, weight_decay=0.5)
    clf.train()
    for _ in range(3):
        loss = clf(torch.randn(4, 3, 32, 32)).logsumexp(1).mean() + clf.head.weight.square().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = clf.state_dict()
    same = {k for k in before if torch.equal(before[k], after[k])}
    stem = {k for k in before if k.startswith(("patch_embed.", "cls_token", "pos_embed"))}
    prefix = {k for k in before if k.startswith(("blocks.0.", "blocks.1.", "blocks.2."))}
    assert stem | prefix <= same
    assert not any(k in same for k in before if k.startswith(("blocks.3.", "head.")))


def test_freeze_blocks_out_of_range_is_one_line():
    with pytest.raises(UserError, match=r"--freeze-blocks 5: the encoder has 4 blocks; give 0\.\.4"):
        freeze_vit(_classifier(), 5)


def test_freeze_a_whole_module():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5), torch.nn.Linear(2, 2))
    freeze(net[0])
    freeze(net[1])
    net.train()
    assert not net[0].weight.requires_grad and net[2].weight.requires_grad
    assert not net[1].training and net[2].training
