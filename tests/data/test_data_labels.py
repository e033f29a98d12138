"""Label files (``labels=FILE``): every format reads to the same exact targets and splits; every mistake is
one line naming the file and the line (or JSON entry)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colormae.data.labelled import LabelledImages, paths_of, targets_of
from colormae.data.labels import read_labels
from colormae.errors import UserError


def _images(root: Path, *names: str) -> Path:
    for i, name in enumerate(names):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8, 3), 30 * i, np.uint8)).save(root / name)
    return root


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_list_column_with_both_separators_and_a_split_column(tmp_path):
    _images(tmp_path, "a.png", "b.png", "c.png")
    csv = _write(tmp_path / "labels.csv", "path,labels,split\na.png,cat;dog,train\nb.png,dog | bird,train\n"
                                          "c.png,cat,val\nd.png,bird,test\n")
    t = read_labels(csv)
    assert t.task == "multilabel" and t.names == ["bird", "cat", "dog"]
    assert t.train.paths == [tmp_path / "a.png", tmp_path / "b.png"] and t.val.paths == [tmp_path / "c.png"]
    assert torch.equal(t.train.targets, torch.tensor([[0.0, 1, 1], [1, 0, 1]]))
    assert torch.equal(t.val.targets, torch.tensor([[0.0, 1, 0]]))  # the test row (no file) is left out


def test_class_columns_and_labels_val(tmp_path):
    _images(tmp_path / "img", "a.png", "b.png", "c.png")
    train = _write(tmp_path / "train.csv", "path,forest,water\na.png,1,0\nb.png,1,1\n")
    val = _write(tmp_path / "val.csv", "path,forest,water\nc.png,0,1\n")
    t = read_labels(train, val, root=tmp_path / "img")
    assert t.names == ["forest", "water"] and t.task == "multilabel"  # columns keep their order
    assert torch.equal(t.train.targets, torch.tensor([[1.0, 0], [1, 1]]))
    assert t.val.paths == [tmp_path / "img" / "c.png"]
    assert torch.equal(t.val.targets, torch.tensor([[0.0, 1]]))


def test_json_mapping_with_train_and_val_path_prefixes(tmp_path):
    _images(tmp_path, "train/a.png", "train/b.png", "val/c.png")
    js = _write(tmp_path / "labels.json", json.dumps({"train/a.png": ["x"], "train/b.png": ["y", "x"],
                                                      "val/c.png": ["y"]}))
    t = read_labels(js)
    assert t.names == ["x", "y"] and [p.name for p in t.train.paths] == ["a.png", "b.png"]
    assert torch.equal(t.train.targets, torch.tensor([[1.0, 0], [1, 1]]))
    assert torch.equal(t.val.targets, torch.tensor([[0.0, 1]]))


def test_json_records_and_numbers_are_regression(tmp_path):
    _images(tmp_path, "a.png", "b.png", "c.png")
    records = [{"path": "a.png", "yield": 2.5, "split": "train"},
               {"path": "b.png", "yield": 1, "split": "train"},
               {"path": "c.png", "yield": 7.25, "split": "validation"}]
    t = read_labels(_write(tmp_path / "r.json", json.dumps(records)))
    assert t.task == "regression" and t.names == ["yield"]
    assert torch.equal(t.train.targets, torch.tensor([[2.5], [1.0]])) and float(t.val.targets) == 7.25
    mapping = {"a.png": [1.0, 2.0], "b.png": [3.0, 4.0]}
    t = read_labels(_write(tmp_path / "m.json", json.dumps(mapping)),
                    _write(tmp_path / "v.json", json.dumps({"c.png": [0.5, 1.5]})))
    assert t.task == "regression" and t.names == ["target_0", "target_1"]
    assert torch.equal(t.train.targets, torch.tensor([[1.0, 2], [3, 4]]))
    assert torch.equal(t.val.targets, torch.tensor([[0.5, 1.5]]))
    # 0 / 1 columns are classes unless task=regression says they are numbers
    csv = _write(tmp_path / "b.csv", "path,flag,split\na.png,1,train\nb.png,0,train\nc.png,1,val\n")
    assert read_labels(csv).task == "multilabel" and read_labels(csv, task="regression").task == "regression"


def test_chest_xray_like_file_and_label_columns(tmp_path):
    """ChestX-ray14's layout: an "Image Index" path column, "Finding Labels" joined by |, other columns."""
    _images(tmp_path, "1.png", "2.png", "3.png")
    csv = _write(tmp_path / "Data_Entry.csv", "Image Index,Finding Labels,Patient Age,split\n"
                                              "1.png,Effusion|Atelectasis,58,train\n"
                                              "2.png,No Finding,81,train\n"
                                              "3.png,Effusion,40,val\n")
    t = read_labels(csv)
    assert t.task == "multilabel" and t.names == ["Atelectasis", "Effusion", "No Finding"]
    age = read_labels(csv, columns=["Patient Age"])
    assert age.task == "regression" and torch.equal(age.val.targets, torch.tensor([[40.0]]))


def test_labelled_images_yield_rows_of_the_table(tmp_path):
    _images(tmp_path, "a.png", "b.png", "c.png")
    csv = _write(tmp_path / "l.csv", "path,labels,split\nc.png,q,train\na.png,p;q,train\nb.png,p,val\n")
    t = read_labels(csv)
    ds = LabelledImages(t, "train")
    assert len(ds) == 2 and ds.classes == ["p", "q"] and ds.channels == 3
    image, row = ds[1]
    assert image.shape == (3, 8, 8) and row == 1
    rows = torch.tensor([1, 0])
    assert torch.equal(targets_of(ds, rows), torch.tensor([[1.0, 1], [0, 1]]))
    assert paths_of(ds, rows) == [str(tmp_path / "a.png"), str(tmp_path / "c.png")]


# (file name, content, read_labels keywords, what the one line must say)
BAD = [
    ("empty.csv", "", {}, r"empty\.csv: an empty label file"),
    ("header.csv", "path,labels,split\n", {}, r"header\.csv: no label rows"),
    ("cells.csv", "path,labels,split\na.png,cat,train,extra\n", {}, r"cells\.csv line 2: 4 cells"),
    ("twice.csv", "path,labels,split\na.png,cat,train\na.png,dog,val\n", {}, r"twice\.csv line 3: a\.png is "
     r"listed twice \(also .*line 2\)"),
    ("none.csv", "path,labels,split\na.png,,train\nb.png,cat,val\n", {},
     r"none\.csv line 2: an image without labels"),
    ("gone.csv", "path,labels,split\nmissing.png,cat,train\nb.png,cat,val\n", {},
     r"gone\.csv line 2: .*missing\.png does not exist \(a label row without an image"),
    ("unknown.csv", "path,labels,split\na.png,cat,train\nb.png,cow,val\n", {},
     r"unknown\.csv line 3: unknown class 'cow'"),
    ("never.csv", "path,cat,dog,split\na.png,1,0,train\nb.png,1,1,val\n", {},
     r"never\.csv: class 'dog' never appears in the training rows"),
    ("notbin.csv", "path,cat,dog,split\na.png,1,2,train\nb.png,1,1,val\n", {"task": "multilabel"},
     r"notbin\.csv line 2: column 'dog' holds 2; class columns hold 0 or 1"),
    ("word.csv", "path,cat,split\na.png,yes,train\nb.png,1,val\n", {},
     r"word\.csv line 2: column 'cat' holds 'yes', not a number"),
    ("split.csv", "path,labels,split\na.png,cat,dev\n", {}, r"split\.csv line 2: split 'dev' is not one of"),
    ("nosplit.csv", "path,labels\na.png,cat\n", {}, r"nosplit\.csv line 2: no split for a\.png"),
    ("noval.csv", "path,labels,split\na.png,cat,train\n", {}, r"noval\.csv: no val rows"),
    ("ext.csv", "path,labels,split\na.txt,cat,train\n", {}, r"ext\.csv line 2: a\.txt is not an image file"),
    ("cols.csv", "path,cat,split\na.png,1,train\nb.png,1,val\n", {"columns": ["dog"]},
     r"label_columns: .*cols\.csv has no column 'dog'"),
    ("reg.csv", "path,labels,split\na.png,cat,train\nb.png,cat,val\n", {"task": "regression"},
     r"reg\.csv: task=regression needs number columns"),
    ("bad.json", "{\"a.png\": [\"cat\"],\n", {}, r"bad\.json line 2: not valid JSON"),
    ("type.json", json.dumps({"a.png": {"cat": 1}}), {},
     r"type\.json entry 'a\.png': labels must be class names"),
    ("ragged.json", json.dumps({"a.png": [1.0, 2.0], "b.png": [3.0]}), {},
     r"ragged\.json entry 'b\.png': expected 2 finite number\(s\)"),
    ("missing.csv", None, {}, r"labels=.*missing\.csv: no such file"),
    ("nolabel.csv", "path,split\na.png,train\n", {}, r"nolabel\.csv line 1: no label column"),
]


@pytest.mark.parametrize(("name", "text", "kwargs", "message"), BAD, ids=[b[0] for b in BAD])
def test_each_bad_label_file_is_one_line(tmp_path, name, text, kwargs, message):
    _images(tmp_path, "a.png", "b.png")
    path = tmp_path / name if text is None else _write(tmp_path / name, text)
    with pytest.raises(UserError, match=message) as err:
        read_labels(path, **kwargs)
    assert "\n" not in str(err.value)


def test_an_image_in_both_label_files_is_refused(tmp_path):
    _images(tmp_path, "a.png", "b.png")
    train = _write(tmp_path / "train.csv", "path,labels\na.png,cat\nb.png,dog\n")
    val = _write(tmp_path / "val.csv", "path,labels\nb.png,dog\n")
    with pytest.raises(UserError, match=r"val\.csv line 2: b\.png is also a training image \(.*line 3\)"):
        read_labels(train, val)
