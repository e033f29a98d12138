"""AdamW with the MAE parameter groups: no weight decay for norms, biases, tokens and position embeddings.

Paper recipe (MAE appendix A.1, used unchanged by ColorMAE): AdamW, betas (0.9, 0.95), weight decay 0.05.
Param groups may carry ``lr_scale`` (layer-wise lr decay for fine-tuning); the engine multiplies the
scheduled lr by it.
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


def param_groups(model: nn.Module, weight_decay: float, *,
                 lr_scale: Callable[[str], float] | None = None) -> list[dict]:
    """Trainable parameters split into decay / no-decay groups (and by ``lr_scale(name)`` when given).

    Names in ``model.no_weight_decay()`` (timm's convention, when the model has it) get no decay either.
    Each group has ``params``, ``weight_decay``, ``lr_scale`` and ``names`` (for inspection and tests).
    """
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
                betas: tuple[float, float] = (0.9, 0.95),
                lr_scale: Callable[[str], float] | None = None) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`; fused kernels when the model is on CUDA."""
    groups = param_groups(model, weight_decay, lr_scale=lr_scale)
    on_cuda = any(p.is_cuda for g in groups for p in g["params"])
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=True if on_cuda else None)
