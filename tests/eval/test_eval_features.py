"""Feature extraction: pooling, eval mode restored, and the torchrun gather matching one process."""

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import TensorDataset
from two_ranks import as_two_ranks

from colormae.errors import UserError
from colormae.eval.features import cached_features, extract_features
from colormae.train.knn import pool_tokens


class _Toy(nn.Module):
    """``forward_features``: (B, 3, 4, 4) -> (B, 1 + 4, 6) tokens; dropout makes train mode visible."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.Linear(12, 6)
        self.drop = nn.Dropout(0.5)

    def forward_features(self, x):
        b = x.shape[0]
        patches = x.reshape(b, 3, 2, 2, 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, 4, 12)
        tokens = self.drop(self.proj(patches))
        return torch.cat([tokens.sum(1, keepdim=True), tokens], dim=1)


def _data(n=11):
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(n, 3, 4, 4, generator=g), torch.arange(n) % 3)


def test_pooling():
    tokens = torch.arange(2 * 3 * 2, dtype=torch.float).reshape(2, 3, 2)
    assert torch.equal(pool_tokens(tokens, "cls"), tokens[:, 0])
    assert torch.equal(pool_tokens(tokens, "mean"), tokens[:, 1:].mean(1))
    with pytest.raises(UserError, match="unknown feature"):
        pool_tokens(tokens, "max")


def test_extract_is_eval_mode_deterministic_and_restores_mode(tmp_path):
    model = _Toy().train()
    ds = _data()
    a, ya = extract_features(model, ds, batch_size=4, progress=False)
    b, _ = extract_features(model, ds, batch_size=5, feature="cls", progress=False)
    assert model.training
    assert a.shape == (11, 6) and torch.equal(ya, torch.arange(11) % 3)
    torch.testing.assert_close(a, b)
    with torch.no_grad():
        expected = model.eval().forward_features(ds.tensors[0])[:, 0]
    torch.testing.assert_close(a, expected)
    c, _ = cached_features(model, ds, cache_dir=tmp_path, key="k", batch_size=4, progress=False)
    assert (tmp_path / "features-k.safetensors").exists()
    model.proj.weight.data.zero_()  # a cache hit must not re-encode
    d, _ = cached_features(model, ds, cache_dir=tmp_path, key="k", batch_size=4, progress=False)
    torch.testing.assert_close(c, d)
    assert not torch.equal(d, torch.zeros_like(d))


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        feats, labels = extract_features(_Toy(), _data(), batch_size=2, feature="mean", progress=False)
        if rank == 1:
            torch.save({"f": feats, "y": labels}, out)
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_gather_across_ranks_equals_single_process(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = str(tmp_path / "rank1.pt")
    mp.spawn(_worker, args=(2, port, out), nprocs=2, join=True)
    got = torch.load(out, weights_only=True)
    ref, ref_y = extract_features(_Toy(), _data(), batch_size=3, feature="mean", progress=False)
    torch.testing.assert_close(got["f"], ref)
    assert torch.equal(got["y"], ref_y)


def test_gather_interleaves_shards_back_into_dataset_order(monkeypatch):
    """Two simulated ranks (patched rank / all_gather): every rank ends with the one-process result."""
    import colormae.eval.features as F

    feats, labels = as_two_ranks(monkeypatch, (F,), lambda: F.extract_features(
        _Toy(), _data(), batch_size=2, feature="mean", progress=False))
    ref, ref_y = extract_features(_Toy(), _data(), batch_size=3, feature="mean", progress=False)
    torch.testing.assert_close(feats, ref)
    assert torch.equal(labels, ref_y)
