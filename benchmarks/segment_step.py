"""Training-step speed and memory of UperNet on ViT-B/16 at 512 x 512 (the official ADE20K recipe's model).

    python benchmarks/segment_step.py --device cuda              # batch 2 (the recipe's per-GPU batch), bf16
    python benchmarks/segment_step.py --device cpu --small       # a smoke run: the CPU demo sizes

Prints images/s and peak memory of a full step (forward, main + auxiliary loss, backward, AdamW with
layer-wise lr decay) and, as the in-process baseline, of the backbone alone (ViT-B forward/backward on the
same crops), so the decoder's cost shows as a ratio.
"""

from __future__ import annotations

import argparse

import torch
from timing import seconds_per_step

from colormae.dense.segmentor import HeadConfig, seg_loss, segmentor_from_mae
from colormae.eval.layer_decay import finetune_optimizer
from colormae.models import create_mae


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--small", action="store_true", help="mae_vit_tiny_32px, 32 px crops, 32 channels")
    args = p.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    if args.small:
        mae, head = create_mae("mae_vit_tiny_32px"), HeadConfig(num_classes=11, crop=32, channels=32,
                                                                aux_channels=16)
    else:
        mae, head = create_mae("mae_vit_base_patch16"), HeadConfig(num_classes=150, crop=512,
                                                                   out_indices=(3, 5, 7, 11))
    model = segmentor_from_mae(mae, head).to(device).train()
    opt = finetune_optimizer(model, 1e-4, layer_decay=0.65)
    crop = head.crop
    x = torch.randn(args.batch, 3, crop, crop, device=device)
    y = torch.randint(0, head.num_classes, (args.batch, crop, crop), device=device)
    amp = dict(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")

    def full() -> None:
        with torch.autocast(**amp):
            loss, _ = seg_loss(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def backbone() -> None:
        with torch.autocast(**amp):
            loss = sum(f.float().mean() for f in model.backbone(x))
        loss.backward()
        model.zero_grad(set_to_none=True)

    warm = 2 if args.small else 3
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t_full = seconds_per_step(full, args.steps, warm, device)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    t_bb = seconds_per_step(backbone, args.steps, warm, device)
    print(f"UperNet ViT {'tiny 32px' if args.small else 'B/16 512px'} batch {args.batch} on {device}: "
          f"{args.batch / t_full:.1f} img/s, step {t_full * 1000:.0f} ms, peak memory {peak:.2f} GiB; "
          f"backbone alone {args.batch / t_bb:.1f} img/s (full step / backbone = {t_full / t_bb:.2f}x)")


if __name__ == "__main__":
    main()
