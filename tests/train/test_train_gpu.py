"""The engine's CUDA paths: bf16 autocast, fp16 with a GradScaler, fused AdamW, exact resume on the GPU."""

from __future__ import annotations

import pytest
import torch
from toy import NoisyPoints, TinyNet

from colormae.train import checkpoint as ckpt_io
from colormae.train.engine import fit
from colormae.train.loader import build_train_loader
from colormae.train.optim import build_adamw
from colormae.train.schedule import WarmupCosine

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def run_cuda(out_dir, *, amp, total=30, stop_at=None, resume=None):
    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = TinyNet().to(dev)
    gen = torch.Generator(device=dev).manual_seed(1)

    def step_fn(m, batch, step):
        x, y = (t.to(dev) for t in batch)
        keep = (torch.rand(x.shape, generator=gen, device=dev) > 0.1).float()
        return ((m(x * keep) - y) ** 2).mean(), {}

    opt = build_adamw(model, 3e-2)
    assert opt.defaults.get("fused") is True
    loader = build_train_loader(NoisyPoints(n=128), batch_size=16, seed=0, num_workers=0, device=dev)
    result = fit(model, loader, step_fn, opt, WarmupCosine(3e-2, 3, total), epochs=100, max_steps=total,
                 amp=amp, grad_clip=1.0, device=dev, out_dir=out_dir, ckpt_every=0, log_every=1,
                 generators={"mask": gen}, resume=resume, stop_at_step=stop_at, progress=False,
                 payload={"kind": "pretrain"})
    return result


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_trains(tmp_path, amp):
    from colormae.train.metrics import read_metrics

    result = run_cuda(tmp_path, amp=amp)
    losses = [r["loss"] for r in read_metrics(tmp_path)]
    assert len(losses) == 30 and sum(losses[-5:]) < 0.5 * sum(losses[:5])
    assert read_metrics(tmp_path)[-1]["peak_mem_mb"] > 0
    ckpt = torch.load(result.checkpoint, weights_only=True)
    assert ("scale" in ckpt["scaler"]) == (amp == "fp16")


def test_cuda_resume_matches(tmp_path):
    straight = run_cuda(tmp_path / "a", amp="bf16", total=12).model.state_dict()
    run_cuda(tmp_path / "b", amp="bf16", total=12, stop_at=5)
    assert ckpt_io.latest_checkpoint(tmp_path / "b").name == ckpt_io.checkpoint_name(5)
    resumed = run_cuda(tmp_path / "b", amp="bf16", total=12, resume=True).model.state_dict()
    for k in straight:
        torch.testing.assert_close(straight[k], resumed[k], rtol=0, atol=1e-6)
