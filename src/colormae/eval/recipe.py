"""Fine-tuning settings that scale with the data and the model ("auto"), and MAE's ViT-B recipe.

MAE's fine-tuning recipe (He et al. 2022, Table 11) is tuned for 1.28 M images, a 12-block ViT-B and
batch 1024: lr 5e-4 x batch / 256, layer decay 0.65, Mixup 0.8 + CutMix 1.0 on every batch,
RandAugment(9, 0.5), random erasing 0.25, label smoothing 0.1, drop path 0.1, 5 warm-up epochs. Carried
unchanged to two thousand 32 px images, a 6-block model and batch 64 it does not learn (the classifier
ends near the majority class): the linear lr scaling makes the peak lr tiny at small batches, layer decay
0.65 over the depth gives the lowest blocks a few percent of it, and mixing two images per sample plus
heavy RandAugment at 32 px leaves a short run with soft targets it fits best with the class prior.

:func:`finetune_recipe` gives values that move with the data (number of training images), the model
(depth) and the batch; a setting passed as ``"auto"`` to :func:`colormae.eval.finetune.finetune` takes
its value from here, any explicit value wins, and :data:`PAPER` is MAE's recipe for a one-line switch
back (``FinetuneConfig(..., **PAPER)``, or ``configs/finetune_mae_paper.yaml``). The rules:

- **Augmentation strength** ``s`` (0..1) grows with ``log(n_train)`` from 0 at :data:`SMALL_SET` images
  to 1 at :data:`LARGE_SET` (ImageNet). Mixup / CutMix alphas are ``s`` times MAE's and are switched off
  below ``s = 0.5`` (mixing needs many steps to pay off), the RandAugment magnitude is ``round(9 s)`` (off
  at 0), random erasing ``0.25 s``, and the smallest RandomResizedCrop area goes from 0.35 (small sets:
  keep most of a small image) to MAE's 0.08. Label smoothing stays 0.1.
- **Learning rate**: MAE's linear rule ``5e-4 x batch / 256`` at ``s = 1``; below, the square-root rule
  from :data:`SMALL_LR` at batch 64 (``SMALL_LR x sqrt(batch / 64)``), blended geometrically with ``s``.
  Adam-type optimisers follow the square-root rule at small batches, and a short run on little data needs
  the larger step.
- **Layer decay** per depth: ``decay ** (12 / depth)`` so that the lowest block keeps the same fraction of
  the head's lr as in a 12-block ViT-B (``decay`` = 0.65 at ``s = 1``, :data:`SMALL_DECAY` = 0.85 at
  ``s = 0``);
  ``1.0`` for a randomly initialised encoder (nothing pretrained to protect).
- **Warm-up** in steps, not epochs: 5 % of the run (MAE: 5 of 100 epochs), at least 1 step.
- **Drop path** ``0.1 x depth / 12`` (MAE: 0.1 for 12 blocks, 0.2 for 24).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

#: At most this many training images counts as a small set (augmentation strength 0).
SMALL_SET = 10_000
#: At least this many counts as ImageNet scale (strength 1: MAE's recipe).
LARGE_SET = 1_000_000
#: Peak lr for a small set at batch 64 (square-root scaling elsewhere).
SMALL_LR = 2e-3
#: Per-12-block layer decay for a small set (MAE's 0.65 at ImageNet scale). Weakly pretrained features
#: must move more than ImageNet-pretrained ones; for the 6-block demo model this gives 0.85 ** 2 = 0.72 per
#: block, next to the 0.75 that fine-tuned a 6-block ColorMAE-G on 2,000 photos 5 points above random init.
SMALL_DECAY = 0.85
#: Value of a setting that :func:`resolve_auto` fills in.
AUTO = "auto"

#: MAE's ViT-B fine-tuning recipe (He et al. 2022, Table 11) as ``FinetuneConfig`` settings.
PAPER: dict[str, Any] = {
    "base_lr": 5e-4, "lr": None, "layer_decay": 0.65, "weight_decay": 0.05, "drop_path": 0.1,
    "mixup": 0.8, "cutmix": 1.0, "smoothing": 0.1, "auto_augment": "rand-m9-mstd0.5-inc1",
    "reprob": 0.25, "crop_min": 0.08, "warmup_epochs": 5,
}


@dataclass(frozen=True)
class FinetuneRecipe:
    """The settings :func:`finetune_recipe` chose (``warmup_steps`` replaces MAE's warm-up epochs)."""

    lr: float
    layer_decay: float
    warmup_steps: int
    drop_path: float
    mixup: float
    cutmix: float
    smoothing: float
    auto_augment: str | None
    reprob: float
    crop_min: float
    strength: float

    def as_dict(self) -> dict[str, Any]:
        """The settings as a dict (JSON-ready)."""
        return asdict(self)


def augmentation_strength(num_train: int) -> float:
    """0 at or below :data:`SMALL_SET` training images, 1 at :data:`LARGE_SET` and above, log-linear
    between."""
    if num_train <= SMALL_SET:
        return 0.0
    return min(1.0, math.log(num_train / SMALL_SET) / math.log(LARGE_SET / SMALL_SET))


def finetune_recipe(num_train: int, depth: int, batch_size: int, *, total_steps: int,
                    pretrained: bool = True) -> FinetuneRecipe:
    """Fine-tuning settings for ``num_train`` images, a ``depth``-block encoder, an effective batch of
    ``batch_size`` and a run of ``total_steps`` optimizer steps (see the module docstring for the rules).

    ``pretrained=False`` (a random-init baseline) turns layer decay off.
    """
    if num_train < 1 or depth < 1 or batch_size < 1 or total_steps < 1:
        raise ValueError(f"positive sizes expected, got {num_train=}, {depth=}, {batch_size=}, "
                         f"{total_steps=}")
    s = augmentation_strength(num_train)
    small_lr = SMALL_LR * math.sqrt(batch_size / 64)
    paper_lr = PAPER["base_lr"] * batch_size / 256
    lr = small_lr ** (1 - s) * paper_lr ** s
    decay = SMALL_DECAY ** (1 - s) * PAPER["layer_decay"] ** s
    mixing = s >= 0.5
    magnitude = round(9 * s)
    return FinetuneRecipe(
        lr=lr,
        layer_decay=decay ** (12 / depth) if pretrained else 1.0,
        warmup_steps=max(1, round(0.05 * total_steps)),
        drop_path=0.1 * depth / 12,
        mixup=0.8 * s if mixing else 0.0,
        cutmix=1.0 * s if mixing else 0.0,
        smoothing=0.1,
        auto_augment=f"rand-m{magnitude}-mstd0.5-inc1" if magnitude else None,
        reprob=0.25 * s,
        crop_min=0.08 + 0.27 * (1 - s),
        strength=s,
    )


def resolve_auto(settings: dict[str, Any], recipe: FinetuneRecipe) -> dict[str, Any]:
    """``settings`` with every value equal to ``"auto"`` replaced by the recipe's (same key; ``warmup_epochs``
    / ``warmup_steps`` take ``recipe.warmup_steps`` as ``warmup_steps``). Other values are kept."""
    chosen = recipe.as_dict()
    out = dict(settings)
    for key, value in settings.items():
        if value != AUTO:
            continue
        if key in ("warmup_epochs", "warmup_steps"):
            out.pop(key)
            out["warmup_steps"] = recipe.warmup_steps
        elif key in chosen:
            out[key] = chosen[key]
        else:
            raise ValueError(f"{key} has no automatic value")
    return out
