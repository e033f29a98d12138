"""The training step: ids handed in (no sync, no graph break) and activation checkpointing."""

import pytest
import torch

from colormae.masking import ColorNoiseMasking, RandomMasking
from colormae.models import create_mae
from colormae.models import ids as mask_ids


@pytest.fixture
def micro():
    torch.manual_seed(0)
    return create_mae("mae_vit_micro_32px")


def test_ids_handed_in_give_the_same_output(micro, gen):
    images = torch.randn(4, 3, 32, 32, generator=gen)
    masks = ColorNoiseMasking("green", bank_size=8, pattern_size=16).draw(4, micro.grid, generator=gen)
    with torch.no_grad():
        a = micro(images, masks.mask)
        b = micro(images, masks.mask, masks.ids_keep)
    assert torch.equal(a.loss, b.loss) and torch.equal(a.pred, b.pred) and torch.equal(a.latent, b.latent)


def test_wrong_ids_are_caught_under_the_debug_flag(micro, gen, monkeypatch):
    images = torch.randn(2, 3, 32, 32, generator=gen)
    masks = RandomMasking(0.75).draw(2, micro.grid, generator=gen)
    wrong = masks.ids_keep.flip(0)  # the other row's visible patches
    micro(images, masks.mask, wrong)  # not checked by default (it would cost syncs)
    monkeypatch.setattr(mask_ids, "CHECK_MASKS", True)
    with pytest.raises(ValueError, match="ascending visible patches"):
        micro(images, masks.mask, wrong)
    micro(images, masks.mask, masks.ids_keep)


@pytest.mark.parametrize("checkpointing", [False, True])
def test_pretraining_forward_and_loss_have_no_graph_break(micro, gen, checkpointing):
    micro.set_grad_checkpointing(checkpointing)
    images = torch.randn(4, 3, 32, 32, generator=gen)
    masks = ColorNoiseMasking("green", bank_size=8, pattern_size=16).draw(4, micro.grid, generator=gen)

    def step(x, mask, ids_keep):
        return micro(x, mask, ids_keep).loss

    explanation = torch._dynamo.explain(step)(images, masks.mask, masks.ids_keep)
    torch._dynamo.reset()
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1, explanation.break_reasons


def test_a_plain_mask_still_breaks_the_graph_once_for_its_count(micro, gen):
    """Without ids the count comes from the mask: the sync the handed-in ids avoid (guards the test above)."""
    images = torch.randn(4, 3, 32, 32, generator=gen)
    mask = RandomMasking(0.75)(4, micro.grid, generator=gen)
    explanation = torch._dynamo.explain(lambda x, m: micro(x, m).loss)(images, mask)
    torch._dynamo.reset()
    assert explanation.graph_break_count >= 1


def _counted(forward, calls):
    def run(*args, **kwargs):
        calls.append(1)
        return forward(*args, **kwargs)
    return run


def _loss_and_grads(model, images, masks):
    model.zero_grad(set_to_none=True)
    loss = model(images, masks.mask, masks.ids_keep).loss
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_grad_checkpointing_same_loss_and_gradients_and_recomputes(micro, gen):
    images = torch.randn(3, 3, 32, 32, generator=gen)
    masks = RandomMasking(0.75).draw(3, micro.grid, generator=gen)
    calls = []
    for block in [*micro.encoder.blocks, *micro.decoder_blocks]:  # count forward runs (hooks do not see
        block.forward = _counted(block.forward, calls)           # checkpoint recomputation)
    plain_loss, plain_grads = _loss_and_grads(micro, images, masks)
    plain_calls = len(calls)
    micro.set_grad_checkpointing(True)
    assert micro.encoder.grad_checkpointing  # timm's own switch
    calls.clear()
    ckpt_loss, ckpt_grads = _loss_and_grads(micro, images, masks)
    n_blocks = len(micro.encoder.blocks) + len(micro.decoder_blocks)
    assert plain_calls == n_blocks and len(calls) == 2 * n_blocks  # each block re-run in the backward pass
    assert torch.equal(plain_loss, ckpt_loss)
    assert plain_grads.keys() == ckpt_grads.keys() and len(plain_grads) > 10
    for name, grad in plain_grads.items():
        torch.testing.assert_close(ckpt_grads[name], grad, rtol=0, atol=1e-6, msg=name)
    with torch.no_grad():  # no checkpointing (nothing to save) when there is no backward pass
        calls.clear()
        assert torch.equal(micro(images, masks.mask, masks.ids_keep).loss, plain_loss)
        assert len(calls) == n_blocks


def test_models_import_no_masking_or_noise():
    import subprocess
    import sys

    code = ("import sys, colormae.models; "
            "print([m for m in sys.modules if m.startswith(('colormae.masking', 'colormae.noise'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
