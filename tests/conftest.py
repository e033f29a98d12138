"""Shared test settings: few threads (CI has 2 cores) and a deterministic torch."""

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture
def gen() -> torch.Generator:
    """A CPU generator seeded the same way in every test."""
    return torch.Generator().manual_seed(0)
