"""Frozen parts of a network, for probes and partial fine-tuning: no gradient, no optimizer, eval mode.

A frozen module has ``requires_grad=False`` on every parameter, so the one parameter-group builder
(:func:`colormae.train.optim.param_groups`, and timm's ``param_groups_layer_decay`` under it) leaves it
out of the optimizer: no update, no weight decay, no optimizer state. It also stays in eval mode when the
training loop calls ``model.train()`` (its ``train`` always means ``train(False)``), so drop path and
dropout are off there and a frozen block computes exactly the function it was loaded with. Its tensors,
buffers included, are therefore bit-identical after training.

The field's conventions, one helper each:

- :func:`freeze`: a whole module (the dense probe: ``segment --freeze-encoder`` freezes the backbone,
  layer-scale gammas at their init 1.0 included, and only the pyramid and the heads learn; the same for
  ``detect``).
- :func:`freeze_vit`: a timm ``VisionTransformer``'s stem (patch embedding, [CLS] / register tokens,
  position embedding and what runs before the blocks) and its first ``blocks`` blocks (MAE's partial
  fine-tuning, He et al. 2022, Sec. 4.3 / Fig. 9), or everything but the classifier head
  (``blocks=None``: MAE's ``main_linprobe.py`` freezes every parameter but ``head``, the final norm and
  ``fc_norm`` included).
"""

from __future__ import annotations

from types import MethodType

from torch import nn

from colormae.errors import UserError

#: The parts of a timm ViT that run before its blocks (absent ones, e.g. ``reg_token``, are skipped).
VIT_STEM = ("patch_embed", "cls_token", "reg_token", "pos_embed", "pos_drop", "patch_drop", "norm_pre")
#: The parts of a timm ViT classifier that stay trainable when the whole encoder is frozen.
VIT_HEAD = ("head", "head_drop")


def _stay_in_eval(self: nn.Module, mode: bool = True) -> nn.Module:
    """``Module.train`` of a frozen module: eval mode whatever ``mode`` says."""
    return nn.Module.train(self, False)


def freeze(module: nn.Module) -> nn.Module:
    """Freeze ``module`` in place (every parameter ``requires_grad=False``; eval mode now and after every
    ``train()`` call, its submodules included) and return it."""
    module.requires_grad_(False)
    module.train = MethodType(_stay_in_eval, module)  # type: ignore[method-assign]
    return module.eval()


def is_frozen(module: nn.Module) -> bool:
    """Whether :func:`freeze` froze ``module`` (it stays in eval mode)."""
    return getattr(module.train, "__func__", None) is _stay_in_eval


def freeze_vit(vit: nn.Module, blocks: int | None = None) -> list[str]:
    """Freeze the stem (:data:`VIT_STEM`) and the first ``blocks`` blocks of a timm ``VisionTransformer``;
    ``blocks=None``: every part but the head (:data:`VIT_HEAD`). Returns the names of the frozen
    parameters (for notes and tests).

    ``blocks`` must be in ``0..depth``; 0 freezes the stem only. Blocks ``blocks..depth-1``, the final
    norm, ``fc_norm`` and the head keep training (with their layer-decay lr scales unchanged).
    """
    depth = len(vit.blocks)
    if blocks is not None and not 0 <= blocks <= depth:
        raise UserError(f"--freeze-blocks {blocks}: the encoder has {depth} blocks; give 0..{depth}")
    if blocks is None:
        parts = [name for name, _ in vit.named_children() if name not in VIT_HEAD]
        direct = [name for name, _ in vit.named_parameters(recurse=False)]
    else:
        parts = [name for name in VIT_STEM if isinstance(getattr(vit, name, None), nn.Module)]
        direct = [name for name in VIT_STEM if isinstance(getattr(vit, name, None), nn.Parameter)]
    for name in parts:
        freeze(getattr(vit, name))
    for name in direct:
        getattr(vit, name).requires_grad_(False)
    if blocks is not None:
        for block in vit.blocks[:blocks]:
            freeze(block)
    return [name for name, p in vit.named_parameters() if not p.requires_grad]


def trainable_fraction(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter element counts of ``model``."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total
