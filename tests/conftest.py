"""Shared test settings and fixtures: few threads (CI has 2 cores), a deterministic torch, a tiny
ImageFolder and free ports for two-process runs."""

import socket
from collections.abc import Callable

import numpy as np
import pytest
import torch
from PIL import Image

torch.set_num_threads(2)


@pytest.fixture
def gen() -> torch.Generator:
    """A CPU generator seeded the same way in every test."""
    return torch.Generator().manual_seed(0)


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    """A tiny ImageFolder with train/ and val/: 3 classes of flat-coloured 32 px squares plus noise."""
    root = tmp_path_factory.mktemp("tinyfolder")
    rng = np.random.default_rng(0)
    colours = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}
    for split, n in (("train", 8), ("val", 4)):
        for name, rgb in colours.items():
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                arr = np.clip(np.array(rgb) + rng.normal(0, 20, (32, 32, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(arr).save(root / split / name / f"{i}.png")
    return root


@pytest.fixture
def free_port() -> Callable[[], int]:
    """A function giving a free local TCP port (each call a new one) for a gloo rendezvous."""
    def port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    return port
