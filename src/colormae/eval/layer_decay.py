"""Layer-wise learning-rate decay for fine-tuning a ViT (BEiT; MAE A.3 uses 0.65 for ViT-B).

timm already implements it (``param_groups_layer_decay``: the stem is layer 0, ``blocks.i`` layer
``i + 1``, the final ``norm`` shares the last block's layer (MAE puts it with the head),
``fc_norm`` and the head are layer ``depth + 1``; each group carries ``lr_scale =
decay ** (depth + 1 - layer)``); the one param-group builder :func:`colormae.train.optim.build_adamw`
wires it to the optimiser the shared training engine expects (it multiplies each group's lr by its
``lr_scale``). This module names the fine-tuning defaults.
"""

from __future__ import annotations

import torch
from torch import nn

from colormae.train.optim import build_adamw

#: MAE's layer decay for ViT-B fine-tuning (He et al. 2022, Table 11).
LAYER_DECAY = 0.65


def finetune_optimizer(model: nn.Module, lr: float, *, weight_decay: float = 0.05,
                       layer_decay: float = LAYER_DECAY, betas: tuple[float, float] = (0.9, 0.999)
                       ) -> torch.optim.Optimizer:
    """AdamW over timm's layer-decayed groups (no weight decay on 1-D params, tokens, pos-embed).

    Every group has ``lr_scale``; ``lr`` is the peak (head) learning rate.
    """
    return build_adamw(model, lr, weight_decay=weight_decay, betas=betas, layer_decay=layer_decay)


def lr_scales_by_name(optimizer: torch.optim.Optimizer, model: nn.Module) -> dict[str, float]:
    """``parameter name -> lr_scale`` of an optimiser built by :func:`finetune_optimizer` (for inspection)."""
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: g.get("lr_scale", 1.0) for g in optimizer.param_groups for p in g["params"]}
