"""``colormae embed``: the frozen-encoder features of every image of a folder, written to a file.

The model is read with :func:`colormae.load`, the images with the probes' data path (the checkpoint's
normalisation, :func:`colormae.eval.probes.eval_normalization`; its image size through
:func:`colormae.data.eval_transform`) and encoded by :func:`colormae.eval.features.extract_features`
(eval mode, no masking, split over ``torchrun`` ranks and gathered in order). Features:

- ``cls``: token 0 after the final norm (timm ``forward_features(x)[:, 0]``);
- ``mean``: the mean of the patch tokens after the final norm: what timm's ``forward_head(x,
  pre_logits=True)`` gives with ``global_pool="avg"`` on a model *built* with token pooling (its final
  ``norm`` applied, ``fc_norm`` an Identity). A timm ViT *created* with ``global_pool="avg"`` has no final
  norm and an ``fc_norm`` after the mean instead (MAE's fine-tuning head): a different layer;
- ``patch``: the patch tokens ``(L, D)`` per image after the final norm.

``layer=K`` takes them after encoder block ``K`` instead, with the final norm applied as DINOv2's
``get_intermediate_layers(..., norm=True)`` (:func:`colormae.train.knn.block_tokens`); the file's metadata
names the block.

Resumable: rows are written in chunks of ``chunk_size`` images to ``OUT.parts/chunk-NNNNN.safetensors``,
each stamped with a key of everything that changes its rows (weights, data and file list, transform,
feature, block, chunk bounds); a rerun keeps the chunks whose key matches. When all are there, rank 0 writes
OUT (atomically), ``<stem>.files.txt`` (one image a line, the rows' order) and ``<stem>.skipped.txt``
(the unreadable images: dropped by the folder's scan or failing while loading) and removes the parts.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from safetensors.torch import save
from torch import Tensor
from torch.utils.data import ConcatDataset, Dataset, Subset

from colormae.errors import UserError
from colormae.files import atomic_write
from colormae.jobs.embed import EmbedConfig
from colormae.progress import write
from colormae.ranks import all_reduce, rank_world

SUFFIXES = (".safetensors", ".npy")


@dataclass
class Images:
    """The images to encode: a data set of ``(image, label)``, a name per row and the files the folder scan
    already dropped as unreadable."""

    dataset: Dataset
    names: list[str]
    classes: list[str] | None
    dropped: list[str]


@dataclass
class EmbedResult:
    """What :func:`embed` wrote: ``rows`` images, feature ``shape`` per row, ``skipped`` unreadable ones."""

    out: Path
    files: Path
    rows: int
    shape: tuple[int, ...]
    skipped: int
    reused_chunks: int
    chunks: int


def sidecar(out: Path, what: str) -> Path:
    """``feats.safetensors`` -> ``feats.<what>.txt`` (the file list, the skipped list)."""
    return out.with_name(f"{out.stem}.{what}.txt")


def _folder_parts(root: Path, split: str) -> list[tuple[str, Path]]:
    if (root / "train").is_dir() and split in ("all", "train", "val"):
        splits = ("train", "val") if split == "all" else (split,)
        return [(s, root / s) for s in splits if (root / s).is_dir()]
    if split != "all":
        raise UserError(f"{root}: split={split} needs a {split}/ sub-folder; use split=all")
    return [("", root)]


def load_images(data: str, split: str, img_size: tuple[int, int], norm: Any) -> Images:
    """The images of ``data`` (folder or built-in set), transformed as the probes do."""
    from colormae.data import build_dataset, eval_transform, is_builtin
    from colormae.data.folder import SafeImageFolder

    tf = eval_transform(img_size, norm)
    if is_builtin(data):
        splits = ("train", "val") if split == "all" else (split,)
        sets = [build_dataset(data, split=s, transform=tf, channels=norm.channels) for s in splits]
        names = [f"{data}/{s}/{i}" for s, d in zip(splits, sets, strict=True) for i in range(len(d))]
        return Images(ConcatDataset(sets), names, list(getattr(sets[0], "classes", []) or []) or None, [])
    root = Path(data).expanduser()
    if not root.is_dir():
        raise UserError(f"{data}: neither a built-in data set nor a folder of images")
    sets, names, dropped = [], [], []
    for _, folder in _folder_parts(root, split):
        ds = SafeImageFolder(folder, transform=tf, channels=norm.channels)
        sets.append(ds)
        names += [str(Path(p).relative_to(root)) for p, _ in ds.samples]
        dropped += [str(Path(p).relative_to(root)) for p in ds.bad_files]
    return Images(ConcatDataset(sets), names, list(sets[0].classes), dropped)


def failed_rows(dataset: Dataset, start: int, stop: int) -> Tensor:
    """``(stop - start,)`` bool: rows whose image failed while loading (in any process or rank); their
    features are those of a substitute image and are dropped."""
    from colormae.data.folder import SafeImageFolder

    parts = dataset.datasets if isinstance(dataset, ConcatDataset) else [dataset]
    marks = [all_reduce(d._failed.clone(), "max").bool() if isinstance(d, SafeImageFolder)
             else torch.zeros(len(d), dtype=torch.bool) for d in parts]  # type: ignore[arg-type]
    return torch.cat(marks)[start:stop]


def _chunk_key(base: str, start: int, stop: int) -> str:
    from colormae.eval.features import feature_cache_key

    return feature_cache_key(base=base, start=start, stop=stop)


def _valid_chunk(path: Path, key: str) -> bool:
    """Whether a chunk file exists, reads and was written for ``key``."""
    if not path.is_file():
        return False
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            return (fh.metadata() or {}).get("key") == key
    except Exception:  # noqa: BLE001 - a damaged chunk is recomputed
        return False


def _write_chunk(path: Path, key: str, feats: Tensor, labels: Tensor, start: int, ok: Tensor) -> None:
    index = torch.arange(start, start + feats.shape[0])
    blob = save({"features": feats.contiguous(), "labels": labels.contiguous(), "index": index,
                 "ok": ok.to(torch.uint8)}, metadata={"key": key})
    atomic_write(path, lambda fh: fh.write(blob))


def _barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def _encode_chunks(cfg: EmbedConfig, model: torch.nn.Module, images: Images, base: str, parts: Path,
                   device: torch.device, layer: int) -> tuple[list[Path], int]:
    """Encode every chunk not already written (tokens after encoder block ``layer``, 0-based);
    ``(chunk files in order, chunks reused)``."""
    from colormae.eval.features import extract_features

    rank, _ = rank_world()
    n = len(images.names)
    bounds = [(a, min(a + cfg.chunk_size, n)) for a in range(0, n, cfg.chunk_size)]
    files, reused = [], 0
    for i, (a, b) in enumerate(bounds):
        path, key = parts / f"chunk-{i:05d}.safetensors", _chunk_key(base, a, b)
        files.append(path)
        if _valid_chunk(path, key):
            reused += 1
            continue
        feats, labels = extract_features(model, Subset(images.dataset, range(a, b)), feature=cfg.feature,
                                         layer=layer, batch_size=cfg.batch_size, device=device,
                                         num_workers=cfg.num_workers, desc=f"chunk {i + 1}/{len(bounds)}",
                                         progress=cfg.progress)
        ok = ~failed_rows(images.dataset, a, b)
        if rank == 0:
            _write_chunk(path, key, feats, labels, a, ok)
        _barrier()
    if reused and rank == 0:
        write(f"embed: kept {reused} of {len(bounds)} chunks already written in {parts}")
    return files, reused


def _read(path: Path, *names: str) -> list[Tensor]:
    """Some tensors of a chunk file (safetensors reads only those)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return [fh.get_tensor(n) for n in names]


def _kept_features(path: Path) -> Tensor:
    feats, ok = _read(path, "features", "ok")
    return feats[ok.bool()]


def _write_npy(out: Path, files: list[Path], rows: int, shape: tuple[int, ...]) -> None:
    """The features as one ``.npy`` written chunk by chunk (numpy's header, then the rows), holding one
    chunk in memory at a time."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
              "shape": (rows, *shape)}

    def body(fh: BinaryIO) -> None:
        np.lib.format.write_array_header_2_0(fh, header)
        for f in files:
            fh.write(_kept_features(f).numpy().astype(np.float32, copy=False).tobytes())

    atomic_write(out, body)


def _assemble(out: Path, files: list[Path], images: Images, meta: dict[str, str]) -> tuple[int, tuple, list]:
    """Write OUT and its file lists from the chunks; ``(rows, feature shape, skipped names)``."""
    from colormae.files import atomic_write_text

    marks = [_read(f, "ok", "index") for f in files]
    keep = torch.cat([ok.bool() for ok, _ in marks])
    index = torch.cat([i for _, i in marks])
    names = [images.names[i] for i in index[keep].tolist()]
    skipped = images.dropped + [images.names[i] for i in index[~keep].tolist()]
    shape = tuple(_read(files[0], "features")[0].shape[1:])
    if out.suffix == ".npy":
        _write_npy(out, files, len(names), shape)
    else:
        labels = [_read(f, "labels")[0][ok.bool()] for f, (ok, _) in zip(files, marks, strict=True)]
        tensors = {"features": torch.cat([_kept_features(f) for f in files]).contiguous(),
                   "labels": torch.cat(labels).contiguous(), "index": index[keep].contiguous()}
        blob = save(tensors, metadata=meta)
        atomic_write(out, lambda fh: fh.write(blob))
    atomic_write_text(sidecar(out, "files"), "".join(f"{n}\n" for n in names))
    atomic_write_text(sidecar(out, "skipped"), "".join(f"{n}\n" for n in skipped))
    return len(names), shape, skipped


def embed(cfg: EmbedConfig, *, device: str | torch.device = "cpu") -> EmbedResult:
    """Encode every image of ``cfg.data`` with ``cfg.ckpt`` and write ``cfg.out`` (module docstring)."""
    from colormae.data.build import data_key
    from colormae.eval.features import feature_cache_key, layer_key, weights_fingerprint
    from colormae.eval.probes import eval_normalization
    from colormae.loading import load
    from colormae.train.knn import encoder_layer

    out = Path(cfg.out).expanduser()
    if out.suffix not in SUFFIXES:
        raise UserError(f"-o {out}: the output must end in .safetensors or .npy")
    if out.is_dir():
        raise UserError(f"-o {out}: an existing folder; give a file name (e.g. {out}/features.safetensors)")
    loaded = load(cfg.ckpt, seed=cfg.seed)
    norm = eval_normalization(loaded, cfg.data, "auto", progress=cfg.progress)
    images = load_images(cfg.data, cfg.split, loaded.img_size, norm)
    model = loaded.model.to(device)
    block = encoder_layer(model, cfg.layer)
    transform = images.dataset.datasets[0].transform  # type: ignore[attr-defined]
    base = feature_cache_key(weights=weights_fingerprint(loaded.name, cfg.seed), model=loaded.name,
                             data=data_key(cfg.data), names=images.names, transform=repr(transform),
                             feature=cfg.feature, seed=cfg.seed, **layer_key(model, block))
    parts = out.with_name(out.name + ".parts")
    files, reused = _encode_chunks(cfg, model, images, base, parts, torch.device(device), block)
    rank, _ = rank_world()
    meta = {"checkpoint": str(loaded.name), "feature": cfg.feature, "layer": str(block),
            "data": str(cfg.data), "img_size": json.dumps(list(loaded.img_size)),
            "normalization": json.dumps(norm.to_dict()), "classes": json.dumps(images.classes), "key": base}
    rows, shape, skipped = (0, (), [])
    if rank == 0:
        rows, shape, skipped = _assemble(out, files, images, meta)
        shutil.rmtree(parts, ignore_errors=True)
    _barrier()
    return EmbedResult(out, sidecar(out, "files"), rows, shape, len(skipped), reused, len(files))
