"""Every job's AdamW and its parameter groups: no weight decay for norms, biases, tokens and position
embeddings; optionally an ``lr_scale`` per group, which the engine multiplies the scheduled lr by.

Paper recipe (MAE appendix A.1, used unchanged by ColorMAE): AdamW, betas (0.9, 0.95), weight decay 0.05.
Two ways to scale the lr by layer, one builder (:func:`param_groups`):

* ``layer_decay=d`` - timm's ``param_groups_layer_decay`` (BEiT's rule by the model's ``group_matcher``:
  the stem is layer 0, ``blocks.i`` layer ``i + 1``, the head ``depth + 1``; ``lr_scale = d ** (depth + 1
  - layer)``), with the model's ``no_weight_decay()`` names: exactly the groups (and the AdamW) of timm's
  ``create_optimizer_v2(model, "adamw", layer_decay=d)``. Fine-tuning and segmentation.
* ``lr_scale=fn`` - ``fn(name)`` per parameter, for models without a ``group_matcher`` (the detector's
  ViTDet rule, :func:`colormae.dense.detect.model.vit_lr_scale`).

Without either (pretraining) the groups are written here rather than taken from timm's
``param_groups_weight_decay``: ours also exempt tokens and position embeddings by name
(:data:`NO_DECAY_NAMES`), keep each group's ``names`` and keep the group order of saved checkpoints
(their optimizer state is matched to groups by position).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

#: Name fragments of parameters that never get weight decay besides every 1-D tensor (norms, biases).
NO_DECAY_NAMES: tuple[str, ...] = ("cls_token", "mask_token", "pos_embed", "dist_token", "reg_token")


def decays(name: str, param: torch.Tensor) -> bool:
    """Whether parameter ``name`` gets weight decay (matrices and convs do; 1-D, tokens, pos-embeds don't)."""
    if param.ndim <= 1:
        return False
    return not any(frag in name for frag in NO_DECAY_NAMES)


def param_groups(model: nn.Module, weight_decay: float, *, lr_scale: Callable[[str], float] | None = None,
                 layer_decay: float | None = None) -> list[dict]:
    """Trainable parameters split into decay / no-decay groups (and by lr scale); see the module doc.

    Names in ``model.no_weight_decay()`` (timm's convention, when the model has it) get no decay either.
    Each group has ``params``, ``weight_decay`` and ``lr_scale``; without ``layer_decay`` also ``names``
    (for inspection and tests).
    """
    if layer_decay is not None:
        if lr_scale is not None:
            raise ValueError("param_groups: give lr_scale or layer_decay, not both")
        from timm.optim import param_groups_layer_decay

        # what timm's create_optimizer_v2 passes
        no_decay = getattr(model, "no_weight_decay", lambda: set())()
        return param_groups_layer_decay(model, weight_decay=weight_decay, layer_decay=layer_decay,
                                        no_weight_decay_list=no_decay)
    skip = set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()
    groups: dict[tuple[bool, float], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = decays(name, param) and name not in skip
        scale = float(lr_scale(name)) if lr_scale is not None else 1.0
        group = groups.setdefault((decay, scale), {
            "params": [], "names": [], "weight_decay": weight_decay if decay else 0.0, "lr_scale": scale})
        group["params"].append(param)
        group["names"].append(name)
    return list(groups.values())


def build_adamw(model: nn.Module, lr: float, *, weight_decay: float = 0.05,
                betas: tuple[float, float] = (0.9, 0.95), lr_scale: Callable[[str], float] | None = None,
                layer_decay: float | None = None) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`; ``lr`` is the peak (``lr_scale`` 1) lr. Fused kernels when the model
    is on CUDA, except with ``layer_decay``: there timm's own AdamW (``torch.optim.AdamW`` with the
    default kernels and ``weight_decay=0`` outside the groups), as fine-tuning always used."""
    groups = param_groups(model, weight_decay, lr_scale=lr_scale, layer_decay=layer_decay)
    if layer_decay is not None:
        return torch.optim.AdamW(groups, weight_decay=0.0, betas=betas, lr=lr)
    on_cuda = any(p.is_cuda for g in groups for p in g["params"])
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=True if on_cuda else None)
