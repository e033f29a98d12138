"""The GPU data path (run here on the CPU): same crop boxes and flips as the CPU path, nearly the same
pixels, batched decoding, and unreadable files skipped and counted."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from colormae.data import SafeImageFolder, mae_transform
from colormae.data.device_normalize import DeviceNormalize, mae_uint8_transform
from colormae.data.gpu_augment import GpuAugment
from colormae.data.gpu_reader import EncodedCrops, collate_encoded
from colormae.train.loader import SeededDataset, build_train_loader

SIZE = 32


def smooth_image(rng, h, w):
    """A photo-like image: smooth gradients plus mild noise (JPEG-friendly), uint8 (h, w, 3)."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(6 * xx + c) + np.cos(5 * yy - c) for c in rng.uniform(0, 3, 3)], -1)
    return ((base + 2) * 60 + rng.normal(0, 4, (h, w, 3))).clip(0, 255).astype(np.uint8)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
    for i in range(6):
        h, w = int(rng.integers(40, 90)), int(rng.integers(40, 90))
        Image.fromarray(smooth_image(rng, h, w)).save(tmp_path / "ab"[i % 2] / f"{i}.jpg", quality=90)
    Image.fromarray(smooth_image(rng, 50, 70)[..., 0]).save(tmp_path / "a" / "gray.jpg", quality=90)
    Image.fromarray(smooth_image(rng, 64, 48)).save(tmp_path / "b" / "lossless.png")
    return tmp_path


def cpu_path_boxes(monkeypatch, dataset, keys):
    """Run the CPU path (SeededDataset over mae_transform) and record the crop boxes it draws."""
    boxes = []
    original = T.RandomResizedCrop.get_params

    def recording(img, scale, ratio):
        box = original(img, scale, ratio)
        boxes.append(list(box))
        return box

    monkeypatch.setattr(T.RandomResizedCrop, "get_params", staticmethod(recording))
    images = [dataset[key][0] for key in keys]
    monkeypatch.undo()
    return boxes, images


def test_boxes_flips_and_pixels_match_the_cpu_path(folder, monkeypatch):
    keys = [(epoch, index) for epoch in (0, 3) for index in range(8)]
    cpu = SeededDataset(SafeImageFolder(folder, transform=mae_transform(SIZE)), seed=7)
    boxes, cpu_images = cpu_path_boxes(monkeypatch, cpu, keys)
    gpu = SeededDataset(EncodedCrops(SafeImageFolder(folder)), seed=7)
    samples = [gpu[key] for key in keys]
    assert [s.box.tolist() for s in samples] == boxes
    assert sum(s.payload.dim() == 3 for s in samples) == 2  # the PNG, decoded in the worker, twice
    images = GpuAugment(SIZE, "cpu")(collate_encoded(samples))
    reference = torch.stack(cpu_images)
    assert images.shape == reference.shape == (16, 3, SIZE, SIZE) and images.dtype == torch.float32
    diff = (images - reference).abs().mean(dim=(1, 2, 3))  # decoders and resize kernels differ slightly
    mirrored = (images.flip(-1) - reference).abs().mean(dim=(1, 2, 3))
    # within about one 8-bit level on average; a wrong flip or box would be off by far more
    assert diff.max() < 0.01 and (mirrored > 0.3).all(), (diff, mirrored)


def test_in_memory_datasets_decode_in_the_worker(monkeypatch):
    rng = np.random.default_rng(1)
    pil = [(Image.fromarray(smooth_image(rng, 40 + 4 * i, 56)), i) for i in range(4)]
    keys = [(1, i) for i in range(4)]

    class Transformed(torch.utils.data.Dataset):
        def __len__(self):
            return len(pil)

        def __getitem__(self, i):
            return mae_transform(SIZE)(pil[i][0]), pil[i][1]

    boxes, _ = cpu_path_boxes(monkeypatch, SeededDataset(Transformed(), seed=2), keys)
    samples = [SeededDataset(EncodedCrops(pil), seed=2)[key] for key in keys]
    assert [s.box.tolist() for s in samples] == boxes
    assert all(s.payload.dtype == torch.uint8 and s.payload.dim() == 3 for s in samples)


def test_loader_with_workers_is_exact_and_counts_a_file_that_does_not_decode(folder):
    data = (folder / "a" / "0.jpg").read_bytes()
    (folder / "a" / "truncated.jpg").write_bytes(data[: len(data) // 2])  # header fine, body cut
    dataset = EncodedCrops(SafeImageFolder(folder))
    assert len(dataset) == 9  # the header scan cannot see the cut

    def epoch(workers):
        loader = build_train_loader(dataset, batch_size=9, seed=4, num_workers=workers,
                                    collate_fn=collate_encoded, drop_last=False)
        loader.sampler.set_epoch(2)
        augment = GpuAugment(SIZE, "cpu")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = [(augment(batch), batch.labels) for batch in loader]
        return out, augment.skipped, caught

    (zero, skipped0, caught), (one, skipped1, _) = epoch(0), epoch(1)
    assert skipped0 == skipped1 == 1 and any("did not decode" in str(w.message) for w in caught)
    (images, labels), = zero
    assert images.shape == (9, 3, SIZE, SIZE) and labels.shape == (9,)
    assert torch.equal(images, one[0][0]) and torch.equal(labels, one[0][1])
    # the undecodable sample was replaced by another image of the batch
    same = [(i, j) for i in range(9) for j in range(i + 1, 9) if torch.equal(images[i], images[j])]
    assert len(same) == 1


def test_cpu_path_8bit_crops_normalised_later_equal_mae_transform(folder):
    keys = [(epoch, index) for epoch in (0, 1) for index in range(8)]
    reference = SeededDataset(SafeImageFolder(folder, transform=mae_transform(SIZE)), seed=5)
    crops = SeededDataset(SafeImageFolder(folder, transform=mae_uint8_transform(SIZE)), seed=5)
    batch = torch.stack([crops[key][0] for key in keys])
    assert batch.dtype == torch.uint8 and batch.shape == (16, 3, SIZE, SIZE)
    expected = torch.stack([reference[key][0] for key in keys])
    torch.testing.assert_close(DeviceNormalize("cpu")(batch), expected, rtol=0, atol=1e-5)
