"""What the ``colormae viz`` commands draw from: a checkpoint (pre-trained or fine-tuned) and images.

Images come from files (resized and centre-cropped by ``colormae.data.eval_transform``) or, when none is
given, from the photos that install with scikit-image / scikit-learn / matplotlib.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from colormae.errors import UserError

#: How many built-in photos are drawn when no image is given.
DEFAULT_NUM_IMAGES = 4


def load_model(path_or_run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, str]:
    """The model of a colormae checkpoint (file or run directory) in eval mode, and its kind.

    Returns ``(model, "pretrain")`` (a :class:`~colormae.models.MaskedAutoencoder`) or
    ``(model, "finetune")`` (the classifier of ``colormae.eval.classifier.load_classifier``).
    """
    from colormae.train.checkpoint import load_checkpoint, load_mae

    kind = load_checkpoint(path_or_run_dir, map_location="meta").get("kind")
    if kind == "pretrain":
        return load_mae(path_or_run_dir, map_location=device), kind
    if kind == "finetune":
        from colormae.eval.classifier import load_classifier

        return load_classifier(path_or_run_dir, map_location=device).eval(), kind
    raise UserError(f"{path_or_run_dir}: unknown checkpoint kind {kind!r}")


def image_size_of(model: nn.Module) -> tuple[int, int]:
    """Input ``(H, W)`` in pixels of a model holding a timm ViT."""
    from colormae.viz.attention import find_vit

    size = find_vit(model).patch_embed.img_size
    return (int(size[0]), int(size[1])) if isinstance(size, (tuple, list)) else (int(size), int(size))


def checkpoint_normalization(path_or_run_dir: str | Path, model: nn.Module | None = None):
    """The :class:`~colormae.data.normalization.Normalization` a checkpoint was trained with (ImageNet for
    checkpoints written before it was stored)."""
    from colormae.data.normalization import normalization_from_checkpoint
    from colormae.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path_or_run_dir, map_location="meta")
    channels = getattr(getattr(model, "config", None), "in_chans", None)
    return normalization_from_checkpoint(ckpt, channels)


def load_images(paths: Sequence[str | Path], img_size: int | tuple[int, int], *,
                num_builtin: int = DEFAULT_NUM_IMAGES, norm=None) -> torch.Tensor:
    """Images as a normalised batch ``(N, C, H, W)`` (``norm``: a
    :class:`~colormae.data.normalization.Normalization`, default ImageNet RGB).

    ``paths`` are image files (any format :mod:`colormae.data.readers` reads) or one folder, from which
    ``num_builtin`` images are taken evenly spaced (its ``val`` split when it has one); when empty,
    ``num_builtin`` built-in photos are used instead (3 channels only).
    """
    from colormae import data
    from colormae.data.readers import UnreadableImage, read_image

    channels = norm.channels if norm is not None else 3
    if not paths:
        if channels not in (1, 3):
            raise UserError(f"the model takes {channels} channels: give image files or a folder of them "
                            "(the built-in photos are RGB)")
        return data.sample_images("photos", num_builtin, img_size, norm)
    if len(paths) == 1 and Path(paths[0]).is_dir():
        return data.sample_images(paths[0], num_builtin, img_size, norm)
    transform = data.eval_transform(img_size, norm)
    batch = []
    for p in paths:
        if not Path(p).is_file():
            raise UserError(f"{p}: no such image file")
        try:
            batch.append(transform(read_image(p)))
        except UnreadableImage as err:
            raise UserError(f"{p}: not a readable image ({err})") from None
        except ValueError as err:
            raise UserError(f"{p}: {err}") from None
    return torch.stack(batch)


def run_label(path: str | Path) -> str:
    """A short name for a checkpoint: its run directory's name (``run/checkpoints/step-*.pt`` -> ``run``)."""
    p = Path(path).resolve()
    if p.is_file():
        p = p.parent.parent if p.parent.name == "checkpoints" else p.parent
    return p.name


def load_models(paths: Sequence[str | Path], device: str | torch.device = "cpu") -> dict[str, nn.Module]:
    """``{label: model}`` of several checkpoints, labelled by run name (``#2``, ... added to repeats)."""
    models: dict[str, nn.Module] = {}
    for path in paths:
        label = run_label(path) or str(path)
        unique, n = label, 1
        while unique in models:
            n += 1
            unique = f"{label} #{n}"
        models[unique] = load_model(path, device)[0]
    return models


def add_input_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    """Arguments shared by the checkpoint-based ``viz`` commands (CKPT, IMAGES, -o, --num-images, ...)."""
    parser.add_argument("checkpoint", metavar="CKPT",
                        help="a colormae checkpoint file or run directory (its newest checkpoint)")
    parser.add_argument("images", metavar="IMAGES", nargs="*",
                        help="image files, or one folder of them, to draw (default: built-in photos)")
    parser.add_argument("-o", "--out", default=default_out, help=f"output PNG (default: {default_out})")
    parser.add_argument("--num-images", type=int, default=DEFAULT_NUM_IMAGES,
                        help="how many built-in photos when no IMAGES are given (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")


def add_overlay_command(sub: argparse._SubParsersAction, name: str, *, help: str, description: str,
                        figure: str) -> None:
    """Add a ``colormae viz <name>`` command that overlays per-model heat maps on images.

    ``figure`` names the drawing function as ``"module:function"`` (imported only when the command
    runs), called as ``function({label: model}, images, out_path) -> Path``.
    """
    parser = sub.add_parser(name, help=help, description=description)
    add_input_arguments(parser, f"{name}.png")
    parser.add_argument("--compare", metavar="CKPT", action="append", default=[],
                        help="another checkpoint drawn as an extra row (e.g. MAE vs ColorMAE-G); repeatable")

    def run(args: argparse.Namespace) -> int:
        import importlib

        module, function = figure.split(":")
        draw = getattr(importlib.import_module(module), function)
        models = load_models([args.checkpoint, *args.compare], args.device)
        images = load_images(args.images, image_size_of(next(iter(models.values()))),
                             num_builtin=args.num_images)
        print(draw(models, images, args.out))
        return 0

    parser.set_defaults(func=run)
