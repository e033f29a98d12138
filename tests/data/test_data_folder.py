"""ImageFolder: class sub-folders, split sub-folders, corrupt files skipped and counted, clear errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from colormae.data import SafeImageFolder, build_dataset, mae_transform, num_classes
from colormae.errors import UserError


def write_image(path, value: int, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.full((20, 24, 3) if mode == "RGB" else (20, 24), value, dtype=np.uint8)
    Image.fromarray(array).save(path)


def test_classes_split_and_grayscale(tmp_path):
    for split in ("train", "val"):
        write_image(tmp_path / split / "cat" / "a.png", 10)
        write_image(tmp_path / split / "dog" / "b.jpg", 200, mode="L")
    write_image(tmp_path / "train" / "dog" / "c.png", 100)
    train = build_dataset(tmp_path, transform=mae_transform(16))
    assert len(train) == 3 and num_classes(train) == 2 and train.classes == ["cat", "dog"]
    assert [train[i][1] for i in range(3)] == [0, 1, 1]
    assert all(train[i][0].shape == (3, 16, 16) for i in range(3))
    assert len(build_dataset(tmp_path, split="val")) == 2


def test_flat_folder_is_one_class(tmp_path):
    for i in range(3):
        write_image(tmp_path / f"{i}.png", i)
    ds = build_dataset(tmp_path)
    assert len(ds) == 3 and num_classes(ds) == 1 and ds[2][0].shape == (3, 20, 24)


def test_corrupt_files_are_skipped_and_counted_once(tmp_path, capsys):
    for i in range(4):
        write_image(tmp_path / "a" / f"{i}.png", 50 * i)
    (tmp_path / "a" / "bad.png").write_bytes(b"not an image at all")
    (tmp_path / "a" / "empty.jpg").write_bytes(b"")
    ds = build_dataset(tmp_path)
    assert len(ds) == 4 and ds.skipped == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: skipped 2 unreadable image(s) of 6")
    assert [ds[i][0].shape for i in range(4)] == [(3, 20, 24)] * 4


def test_bad_file_found_while_loading_is_replaced(tmp_path, capsys):
    write_image(tmp_path / "a" / "0.png", 0)
    write_image(tmp_path / "a" / "1.png", 255)
    good = tmp_path / "a" / "1.png"
    ds = SafeImageFolder(tmp_path, scan_limit=0)  # no up-front check
    good.write_bytes(good.read_bytes()[:40])  # truncate after opening: fails only when decoded
    image, _ = ds[1]
    assert "skipping unreadable image" in capsys.readouterr().err
    assert ds.skipped == 1
    assert torch.equal(image, ds[0][0])  # the next readable image came instead


@pytest.mark.parametrize("case", ["missing", "empty", "no_images", "file"])
def test_missing_or_empty_folder_is_one_clear_error(tmp_path, case):
    path = tmp_path / "data"
    if case == "empty":
        path.mkdir()
    elif case == "no_images":
        (path / "cls").mkdir(parents=True)
        (path / "cls" / "notes.txt").write_text("hello")
    elif case == "file":
        path.write_text("x")
    with pytest.raises(UserError) as err:
        SafeImageFolder(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
