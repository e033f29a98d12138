"""Frozen-encoder features for k-NN and linear probing: ``model.eval()``, ``no_grad``, computed once.

The encoder is any module with ``forward_features(images) -> tokens (B, 1 + L, D)`` whose first token is
[CLS]: a :class:`~colormae.models.MaskedAutoencoder` (no masking) or a timm ``VisionTransformer``. Two
pooled features (MAE, He et al. 2022, Sec. A.2):

- ``"cls"``: the [CLS] token after the final LayerNorm (what MAE's linear probe uses);
- ``"mean"``: the mean of the patch tokens after the final LayerNorm ([CLS] excluded).

``colormae embed`` also takes ``"patch"``: the patch tokens themselves, ``(B, L, D)`` (no pooling).
``layer=K`` reads the tokens after block ``K`` instead of the last one (0-based, negative from the end),
normed by the final LayerNorm as DINOv2's intermediate-layer probes
(:func:`colormae.train.knn.block_tokens`).

Under ``torchrun`` each rank encodes every ``world_size``-th sample and the rows are gathered with
``all_gather`` (padded to equal length, then put back in dataset order), so every rank ends up with the
same ``(N, D)`` matrix as a single-process run.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.utils.data import Dataset

from colormae.errors import UserError
from colormae.files import atomic_path
from colormae.progress import progress as progress_bar
from colormae.ranks import rank_world
from colormae.train.knn import TOKEN_FEATURES, encode, encoder_layer
from colormae.train.loader import build_eval_loader


def gather_rows(local: Tensor, counts: list[int]) -> Tensor:
    """Concatenate ``local: (n_r, ...)`` of every rank (``counts[r] = n_r``) in rank order.

    ``all_gather`` needs equal shapes, so rows are padded to ``max(counts)`` and trimmed afterwards.
    """
    world = len(counts)
    if world == 1:
        return local
    width = max(counts)
    padded = local.new_zeros((width, *local.shape[1:]))
    padded[: local.shape[0]] = local
    parts = [torch.empty_like(padded) for _ in range(world)]
    torch.distributed.all_gather(parts, padded)
    return torch.cat([p[:n] for p, n in zip(parts, counts, strict=True)])


@torch.no_grad()
def extract_features(model: nn.Module, dataset: Dataset, *, feature: str = "cls", batch_size: int = 256,
                     device: str | torch.device = "cpu", num_workers: int | None = 0,
                     desc: str = "features", progress: bool = True, layer: int | None = None
                     ) -> tuple[Tensor, Tensor]:
    """Encode a whole dataset once: ``features: (N, D)`` float32 (``"patch"``: ``(N, L, D)``) and
    ``labels: (N,)`` int64, on CPU; ``layer``: after that encoder block (``None``: the last).

    The model is put in eval mode for the pass (its previous mode is restored afterwards). Under
    ``torch.distributed`` the work is split over ranks and gathered; every rank returns the full result
    in dataset order.
    """
    if feature not in TOKEN_FEATURES:
        raise UserError(f"unknown feature {feature!r}; choose one of {', '.join(TOKEN_FEATURES)}")
    device = torch.device(device)
    rank, world = rank_world()
    n = len(dataset)  # type: ignore[arg-type]
    if n == 0:
        raise UserError("the dataset is empty")
    loader = build_eval_loader(dataset, batch_size=batch_size, num_workers=num_workers, device=device,
                               rank=rank, world_size=world)
    was_training = model.training
    model.eval()
    feats, labels = [], []
    try:
        for images, targets in progress_bar(loader, desc=desc, enabled=rank == 0 and progress, leave=False):
            images = images.to(device, non_blocking=True)
            feats.append(encode(model, images, feature, layer))
            labels.append(torch.as_tensor(targets).to(device))
    finally:
        model.train(was_training)
    local_f = torch.cat(feats)
    local_y = torch.cat(labels).long()
    return gather_in_order(local_f, n).cpu(), gather_in_order(local_y, n).cpu()


def gather_in_order(local: Tensor, n: int) -> Tensor:
    """The rows ``(n, ...)`` of a data set of ``n`` items from every rank's ``local`` rows, in data-set
    order: rank ``r`` of ``world`` held items ``r, r + world, ...`` (:func:`build_eval_loader`'s split)."""
    world = rank_world()[1]
    if world == 1:
        return local
    counts = [len(range(r, n, world)) for r in range(world)]
    rows = gather_rows(local, counts)
    order = torch.cat([torch.arange(r, n, world) for r in range(world)]).to(rows.device)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(n, device=order.device)
    return rows[inverse]


def layer_key(model: nn.Module, block: int) -> dict[str, int]:
    """The cache-key entry of features after encoder block ``block`` (0-based) of ``model``: none for the
    last block (the keys the default features always had), else ``{"layer": block}``."""
    return {} if block == encoder_layer(model, None) else {"layer": block}


def feature_cache_key(**parts: object) -> str:
    """A short hash of everything that changes a feature set: the weights (``fingerprint``: checkpoint
    path, size and modification time, or ``random:<preset>`` and its seed), the data, split, transform
    (its ``repr``: image size, normalisation), feature kind, seed and number of rows."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


#: A model spec that names no file: ``random:``, ``hf:``, ``timm:`` ... (lower-case scheme, then a colon).
SCHEME = re.compile(r"^[a-z][a-z0-9_+.-]*:")


def weights_fingerprint(name: str | Path, seed: int = 0) -> str:
    """What identifies a model's weights for the feature cache: ``path:size:mtime_ns`` of the checkpoint
    file (of every file of a folder such as a Hugging Face ``save_pretrained`` one), so a rewritten
    checkpoint is a new key; a spec (``random:<preset>``, ``hf:...``, ``timm:...``: a scheme before a colon)
    or anything that is not a file: the text as given, with its seed."""
    if SCHEME.match(str(name)):
        return f"{name}:seed={seed}"
    p = Path(name).expanduser()
    if not p.exists():
        return f"{name}:seed={seed}"
    p = p.resolve()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    return "|".join(f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)


def _dataset_labels(dataset: Dataset) -> Tensor | None:
    """Labels of a data set without loading images, when it lists them (``targets``), else ``None``."""
    targets = getattr(dataset, "targets", None)
    if targets is None:
        return None
    return torch.as_tensor(list(targets) if not isinstance(targets, Tensor) else targets).long()


def _valid_cache(blob: dict[str, Tensor], meta: dict[str, str] | None, key: str, dataset: Dataset) -> bool:
    """A cached file is used only if it was written for ``key``, has one finite float32 row per sample
    and (when the data set lists them) the same labels in the same order."""
    feats, labels = blob.get("features"), blob.get("labels")
    if feats is None or labels is None or (meta or {}).get("key") != key:
        return False
    n = len(dataset)  # type: ignore[arg-type]
    if feats.ndim != 2 or feats.shape[0] != n or labels.shape != (n,) or feats.dtype != torch.float32:
        return False
    if not bool(torch.isfinite(feats).all()):
        return False
    expected = _dataset_labels(dataset)
    return expected is None or torch.equal(expected, labels.long())


def cached_features(model: nn.Module, dataset: Dataset, *, cache_dir: str | Path | None, key: str,
                    **kwargs: object) -> tuple[Tensor, Tensor]:
    """:func:`extract_features`, stored as ``<cache_dir>/features-<key>.safetensors`` and reused.

    ``key`` should come from :func:`feature_cache_key`; it is also stored in the file's metadata, and a
    file is reused only when the stored key, the row count, the dtype and (when the data set lists them)
    the labels match and every value is finite; otherwise the features are recomputed and the file
    rewritten. With ``cache_dir=None`` nothing is stored. Only rank 0 writes the file.
    """
    if cache_dir is None:
        return extract_features(model, dataset, **kwargs)  # type: ignore[arg-type]
    path = Path(cache_dir) / f"features-{key}.safetensors"
    if path.exists():
        try:
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as fh:
                meta = fh.metadata()
            blob = load_file(str(path))
        except Exception:  # noqa: BLE001 - a damaged cache file is recomputed
            blob, meta = {}, None
        if _valid_cache(blob, meta, key, dataset):
            return blob["features"], blob["labels"]
    feats, labels = extract_features(model, dataset, **kwargs)  # type: ignore[arg-type]
    if rank_world()[0] == 0:  # atomically, with the umask's permissions (safetensors' save_file: 0600)
        with atomic_path(path) as tmp:
            save_file({"features": feats.contiguous(), "labels": labels.contiguous()}, str(tmp),
                      metadata={"key": key})
    return feats, labels
