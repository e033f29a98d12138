"""train/ and val/ must hold the same classes: one line naming the missing one (linprobe through the CLI)."""

import numpy as np
import pytest
from PIL import Image

from colormae.cli import main
from colormae.data import build_dataset
from colormae.errors import UserError


def _split_folder(root, train=("ant", "bee", "cat"), val=("ant", "cat")):
    for split, classes in (("train", train), ("val", val)):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(np.full((12, 12, 3), 30 * i, np.uint8)).save(root / split / c / f"{i}.png")
    return root


def test_linprobe_on_val_missing_a_class_is_one_line(tmp_path, capsys):
    data = _split_folder(tmp_path)
    code = main(["linprobe", "random:mae_vit_micro_32px", "--data", str(data), "--epochs", "1",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "'bee'" in err and "Traceback" not in err


def test_extra_val_class_is_named_too(tmp_path):
    data = _split_folder(tmp_path, train=("ant",), val=("ant", "dog"))
    with pytest.raises(UserError, match="'dog'"):
        build_dataset(data, split="val")


def test_matching_classes_pass(tmp_path):
    data = _split_folder(tmp_path, val=("ant", "bee", "cat"))
    assert build_dataset(data, split="val").classes == ["ant", "bee", "cat"]
