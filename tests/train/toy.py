"""A tiny regression problem that exercises every random stream the engine must restore.

Not a test module: imported by the engine tests (``run_toy`` and the comparison helpers).
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from colormae.train.engine import fit
from colormae.train.loader import build_train_loader
from colormae.train.optim import build_adamw
from colormae.train.schedule import WarmupCosine


class NoisyPoints(Dataset):
    """``n`` points of ``y = x @ w``; each read adds augmentation noise from torch, numpy and python RNGs."""

    def __init__(self, n: int = 64, dim: int = 8) -> None:
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, dim, generator=g)
        self.y = self.x @ torch.randn(dim, 1, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        jitter = 0.01 * (torch.rand(()) + float(np.random.rand()) + random.random())
        return self.x[i] + jitter, self.y[i]


class TinyNet(nn.Module):
    """An MLP with a token-like parameter (for weight-decay groups)."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, dim))
        self.fc1 = nn.Linear(dim, 16)
        self.norm = nn.LayerNorm(16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.norm(self.fc1(x + self.cls_token))))


def make_step_fn(gen: torch.Generator):
    """A step_fn drawing a feature mask from ``gen`` and global-RNG noise (both must resume exactly)."""

    def step_fn(model: nn.Module, batch, step: int):
        x, y = batch
        keep = (torch.rand(x.shape, generator=gen) > 0.1).float()
        x = x * keep + 1e-3 * torch.randn_like(x)
        loss = ((model(x) - y) ** 2).mean()
        return loss, {"keep": float(keep.mean())}

    return step_fn


def run_toy(out_dir, *, total=12, accum=2, stop_at=None, resume=None, ckpt_every=4, keep_last=3,
            step_fn=None, epochs=100, log_every=1, lr=1e-2, gen=None, optimizer_hook=None, dataset=None,
            num_workers=0):
    """Train TinyNet on NoisyPoints with :func:`fit`; returns (model, FitResult).

    ``gen``: the mask generator (pass the one a custom ``step_fn`` draws from); ``optimizer_hook(opt)``
    may patch the optimizer before training.
    """
    torch.manual_seed(0)
    model = TinyNet()
    loader = build_train_loader(dataset or NoisyPoints(), batch_size=8, seed=3, num_workers=num_workers)
    opt = build_adamw(model, lr)
    if optimizer_hook is not None:
        optimizer_hook(opt)
    gen = gen if gen is not None else torch.Generator().manual_seed(7)
    result = fit(model, loader, step_fn or make_step_fn(gen), opt, WarmupCosine(lr, 2, total), epochs=epochs,
                 max_steps=total, accum_steps=accum, grad_clip=1.0, out_dir=out_dir, ckpt_every=ckpt_every,
                 keep_last=keep_last, log_every=log_every, resume=resume, stop_at_step=stop_at,
                 generators={"mask": gen}, payload={"kind": "pretrain", "config": {"a": 1}}, progress=False)
    return model, result


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
