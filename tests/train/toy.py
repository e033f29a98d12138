"""A tiny regression problem that exercises every random stream the engine must restore.

Not a test module: imported by the engine tests (``toy_*`` helpers).
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset


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
