"""Training-step speed and peak memory of ViTDet's Mask R-CNN (ViT-B/16, 1024 px, bf16) on torchvision.

Prints images per second and peak memory of ``colormae detect``'s detector (random ViT-B/16 encoder, window
attention 14, global blocks 2, 5, 8, 11, simple feature pyramid, LayerNorm heads) for full training steps
(forward, backward, AdamW) on synthetic images with a few boxes and masks each, and the ratio against
torchvision's own ``maskrcnn_resnet50_fpn_v2`` run the same way in the same process (the peer baseline).

    python benchmarks/detect.py --device cuda                       # the GPU check: 1024 px, batch 4, bf16
    python benchmarks/detect.py --device cpu --size 64 --batch 2 --preset mae_vit_micro_32px --steps 2
"""

from __future__ import annotations

import argparse

import torch
from timing import seconds_per_step


def synthetic_batch(batch: int, size: int, device: torch.device, seed: int = 0) -> tuple[list, list]:
    """``batch`` random images of ``size`` px with 3 boxes (and their box-shaped masks) each."""
    g = torch.Generator().manual_seed(seed)
    images, targets = [], []
    for _ in range(batch):
        images.append(torch.rand(3, size, size, generator=g).to(device))
        xy = torch.rand(3, 2, generator=g) * size * 0.6
        wh = torch.rand(3, 2, generator=g) * size * 0.3 + size * 0.05
        boxes = torch.cat([xy, xy + wh], 1)
        masks = torch.zeros(3, size, size, dtype=torch.uint8)
        for k, (x0, y0, x1, y1) in enumerate(boxes.round().long().tolist()):
            masks[k, y0:y1, x0:x1] = 1
        labels = torch.randint(1, 81, (3,), generator=g)
        targets.append({"boxes": boxes.to(device), "labels": labels.to(device), "masks": masks.to(device)})
    return images, targets


def time_steps(model: torch.nn.Module, batch: int, size: int, steps: int, device: torch.device,
               amp: bool) -> tuple[float, float]:
    """``(images per second, peak memory in GiB)`` over ``steps`` training steps after two warm-up steps."""
    model.train().to(device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    images, targets = synthetic_batch(batch, size, device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = sum(model(images, targets).values())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    elapsed = seconds_per_step(step, steps, 2, device, reset_peak_after_warmup=True) * steps
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return batch * steps / elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--preset", default="mae_vit_base_patch16")
    parser.add_argument("--no-amp", action="store_true", help="fp32 instead of bf16 autocast")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)

    from torchvision.models.detection import maskrcnn_resnet50_fpn_v2

    from colormae.dense.detect.model import DetectorConfig, build_detector
    from colormae.models import resolve_config

    encoder = resolve_config(args.preset)
    det = DetectorConfig(num_classes=80, img_size=args.size, window_size=14, drop_path=0.1)
    ours = build_detector(encoder, det)
    ours_ips, ours_mem = time_steps(ours, args.batch, args.size, args.steps, device, not args.no_amp)
    del ours
    if device.type == "cuda":
        torch.cuda.empty_cache()
    peer = maskrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=81, min_size=args.size,
                                    max_size=args.size)
    peer_ips, peer_mem = time_steps(peer, args.batch, args.size, args.steps, device, not args.no_amp)
    mode = "fp32" if args.no_amp else "bf16"
    print(f"ViTDet Mask R-CNN ({args.preset}, {args.size} px, batch {args.batch}, {mode}): "
          f"{ours_ips:.2f} img/s, peak {ours_mem:.2f} GiB")
    print(f"torchvision maskrcnn_resnet50_fpn_v2 (same inputs): {peer_ips:.2f} img/s, "
          f"peak {peer_mem:.2f} GiB")
    print(f"ratio ViTDet / R50-FPN: {ours_ips / peer_ips:.2f}x img/s")


if __name__ == "__main__":
    main()
