"""Feature cache: the key covers weights, seed, transform, split and feature; files are validated."""

import os

import torch
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import Dataset

from colormae.eval.features import cached_features


class _Lin(nn.Module):
    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward_features(self, x):
        return torch.stack([x * self.scale, x], dim=1)  # (B, 2, D): [CLS] = scale * x


class _Data(Dataset):
    def __init__(self, targets):
        self.targets = list(targets)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return torch.full((4,), float(i)), self.targets[i]


def test_a_file_is_reused_only_for_its_key_and_labels(tmp_path):
    ds = _Data([0, 1, 0, 1, 2])
    a, _ = cached_features(_Lin(1.0), ds, cache_dir=tmp_path, key="k1", progress=False)
    b, _ = cached_features(_Lin(5.0), ds, cache_dir=tmp_path, key="k1", progress=False)
    assert torch.equal(a, b)  # the same key: a cache hit
    # a file with the right name and row count but written for another key (or by an older version
    # without the key in its metadata) is recomputed
    path = tmp_path / "features-k2.safetensors"
    save_file({"features": torch.zeros(5, 4), "labels": torch.tensor([0, 1, 0, 1, 2])}, str(path))
    c, _ = cached_features(_Lin(2.0), ds, cache_dir=tmp_path, key="k2", progress=False)
    torch.testing.assert_close(c, 2 * a)
    # the same rows but other labels (a data folder changed): recomputed
    relabelled = _Data([2, 2, 2, 2, 2])
    d, y = cached_features(_Lin(3.0), relabelled, cache_dir=tmp_path, key="k2", progress=False)
    torch.testing.assert_close(d, 3 * a)
    assert y.tolist() == [2] * 5


def test_linprobe_key_changes_with_seed_and_checkpoint_file(tmp_path):
    import numpy as np
    from PIL import Image

    from colormae.eval.features import weights_fingerprint
    from colormae.eval.probes import encode_splits
    from colormae.loading import load

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in ("a", "b"):
            (tmp_path / "data" / split / c).mkdir(parents=True)
            for i in range(3):
                image = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
                image.save(tmp_path / "data" / split / c / f"{i}.png")
    data = str(tmp_path / "data")
    kw = {"cache_dir": tmp_path / "cache", "batch_size": 64, "progress": False}
    first = encode_splits(load("random:mae_vit_micro_32px", seed=0), data, seed=0, **kw)
    again = encode_splits(load("random:mae_vit_micro_32px", seed=0), data, seed=0, **kw)
    other = encode_splits(load("random:mae_vit_micro_32px", seed=1), data, seed=1, **kw)
    assert torch.equal(first.val_x, again.val_x)
    assert not torch.allclose(first.val_x, other.val_x)  # another seed is another encoder: no stale reuse
    assert len(list((tmp_path / "cache").iterdir())) == 4  # train + val for each seed
    f = tmp_path / "ckpt.pt"
    f.write_bytes(b"a")
    before = weights_fingerprint(f)
    os.utime(f, ns=(1, 1))
    assert weights_fingerprint(f) != before
    assert weights_fingerprint("random:x", 0) != weights_fingerprint("random:x", 1)
