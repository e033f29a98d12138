"""The ``natural`` set: the Qt .rcc reader (round trip through a bundle written here), the build from
bundles laid out like gcompris-qt-data (disjoint photo splits, deterministic views, duplicates dropped),
the install hint, and - where Debian's gcompris-qt-data is installed - the real set's sizes."""

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from colormae.data import build_dataset, num_classes
from colormae.data.natural import CLASSES, RCC_DIR, SOURCES, Natural, build_arrays, load_arrays, split_of
from colormae.data.rcc import RccError, read_rcc
from colormae.errors import UserError


def write_rcc(path, files: dict[str, bytes], *, compress=()) -> None:
    """A version-2 Qt resource bundle holding ``files`` (``"a/b/c.ext" -> bytes``), as Qt's rcc lays it
    out: nodes breadth-first, each directory's children contiguous (``compress``: paths stored zlib'd)."""
    tree: dict = {}
    for name in files:
        node = tree
        parts = name.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = name
    names, data, nodes = bytearray(), bytearray(), []
    name_offsets: dict[str, int] = {}

    def name_offset(name: str) -> int:
        if name not in name_offsets:
            name_offsets[name] = len(names)
            names.extend(struct.pack(">HI", len(name), 0) + name.encode("utf-16-be"))
        return name_offsets[name]

    nodes.append(None)  # the root, filled below
    pending = [(0, "", tree)]
    while pending:
        index, name, node = pending.pop(0)
        if isinstance(node, dict):
            first = len(nodes)
            children = sorted(node.items())
            nodes.extend([None] * len(children))
            offset = name_offset(name) if index else 0
            nodes[index] = struct.pack(">IHII", offset, 2, len(children), first) + bytes(8)
            pending += [(first + i, n, c) for i, (n, c) in enumerate(children)]
        else:
            blob = files[node]
            flags = 0
            if node in compress:
                blob, flags = struct.pack(">I", len(blob)) + zlib.compress(blob), 1
            nodes[index] = struct.pack(">IHHHI", name_offset(name), flags, 0, 0, len(data)) + bytes(8)
            data.extend(struct.pack(">I", len(blob)) + blob)
    tree_blob = b"".join(nodes)
    header = 20
    tree_off, data_off = header, header + len(tree_blob)
    names_off = data_off + len(data)
    path.write_bytes(b"qres" + struct.pack(">IIII", 2, tree_off, data_off, names_off) + tree_blob + data
                     + bytes(names))


def test_rcc_round_trip(tmp_path):
    files = {"gcompris/src/a.txt": b"hello", "gcompris/src/sub/b.bin": bytes(range(256)) * 3,
             "gcompris/top.qml": b"x" * 1000}
    write_rcc(tmp_path / "t.rcc", files, compress={"gcompris/top.qml"})
    assert read_rcc(tmp_path / "t.rcc") == {"/" + k: v for k, v in files.items()}
    (tmp_path / "bad.rcc").write_bytes(b"nope" + bytes(30))
    with pytest.raises(RccError, match="not a Qt resource bundle"):
        read_rcc(tmp_path / "bad.rcc")


def _photo(seed: int, size=(120, 90)) -> bytes:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (3, 4, 3)).astype(np.uint8)  # a coarse pattern, different per seed
    image = Image.fromarray(base).resize(size, Image.BILINEAR)
    buf = io.BytesIO()
    image.save(buf, format="WEBP", lossless=True)
    return buf.getvalue()


@pytest.fixture()
def fake_gcompris(tmp_path, monkeypatch):
    """Bundles laid out like gcompris-qt-data: 6 photos per class, plus one photo shipped twice."""
    bundles: dict[str, dict[str, bytes]] = {}
    seed = 0
    for cls in CLASSES:
        for bundle, fragment in SOURCES[cls]:
            for _ in range(6 // len(SOURCES[cls]) + 1):
                seed += 1
                key = f"gcompris/src/activities{fragment}p{seed}.webp"
                bundles.setdefault(bundle, {})[key] = _photo(seed)
            bundles[bundle][f"gcompris/src/activities{fragment}readme.qml"] = b"not a photo"
    dup = next(iter(bundles["categorization.rcc"]))
    bundles["categorization.rcc"][dup.replace(".webp", "_copy.webp")] = bundles["categorization.rcc"][dup]
    for bundle, files in bundles.items():
        write_rcc(tmp_path / bundle, files)
    monkeypatch.setenv("COLORMAE_GCOMPRIS_RCC", str(tmp_path))
    monkeypatch.setenv("COLORMAE_CACHE", str(tmp_path / "cache"))
    load_arrays.cache_clear()
    yield tmp_path
    load_arrays.cache_clear()


def test_build_splits_disjoint_deterministic_and_cached(fake_gcompris):
    arrays = build_arrays(fake_gcompris, size=16, views=4)
    photos = sum(len([k for k in read_rcc(fake_gcompris / b) if f in k and k.endswith(".webp")])
                 for c in CLASSES for b, f in SOURCES[c])
    keys = arrays["keys"]
    assert len(keys) == photos - 1                                   # the copy is dropped
    assert arrays["images"].shape == (4 * len(keys), 16, 16, 3) and arrays["images"].dtype == np.uint8
    assert np.bincount(arrays["photo"]).tolist() == [4] * len(keys)
    # a photo's views are all in one split, given by its key; so the splits share no source photo
    for p, key in enumerate(keys):
        assert set(arrays["is_val"][arrays["photo"] == p]) == {split_of(str(key)) == "val"}
    assert set(arrays["labels"].tolist()) == set(range(len(CLASSES)))
    # view 0 is the whole centre square, the others differ from it
    assert not np.array_equal(arrays["images"][0], arrays["images"][1])
    again = build_arrays(fake_gcompris, size=16, views=4)
    assert all(np.array_equal(arrays[k], again[k]) for k in arrays)

    train, val = Natural("train", size=16), Natural("val", size=16)
    assert len(train) + len(val) == 8 * len(keys) and len(val) > 0  # VIEWS = 8 views a photo
    assert not set(train.photo.tolist()) & set(val.photo.tolist())
    assert list((fake_gcompris / "cache").glob("natural-16px-*.npz"))
    image, label = train[0]
    assert image.shape == (3, 16, 16) and 0 <= label < 5 and num_classes(train) == 5


def test_missing_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("COLORMAE_GCOMPRIS_RCC", str(tmp_path / "nowhere"))
    load_arrays.cache_clear()
    with pytest.raises(UserError, match="apt-get install gcompris-qt-data"):
        build_dataset("natural")
    with pytest.raises(UserError, match="splits"):
        Natural("test")
    load_arrays.cache_clear()


@pytest.mark.skipif(not (RCC_DIR / "categorization.rcc").is_file(), reason="gcompris-qt-data not installed")
def test_real_natural_set(monkeypatch, tmp_path):
    monkeypatch.delenv("COLORMAE_GCOMPRIS_RCC", raising=False)
    monkeypatch.setenv("COLORMAE_CACHE", str(tmp_path))
    load_arrays.cache_clear()
    train, val = build_dataset("natural"), build_dataset("natural", split="val")
    assert (len(train), len(val)) == (1368, 440) and num_classes(train) == 5
    assert np.bincount(train.targets).tolist() == [400, 432, 144, 160, 232]
    assert np.bincount(val.targets).tolist() == [56, 152, 88, 64, 80]
    assert not set(train.photo.tolist()) & set(val.photo.tolist())
    image, _ = val[0]
    assert image.shape == (3, 32, 32) and torch.isfinite(image).all()
    load_arrays.cache_clear()
