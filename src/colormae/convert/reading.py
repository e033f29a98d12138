"""Reading checkpoints from elsewhere, safely, and finding the state dict inside them.

Files from other projects are untrusted: ``.safetensors`` are read with safetensors, everything else with
``torch.load(weights_only=True)`` (tensors and plain containers only, never arbitrary objects). The one
extra type allowed is ``argparse.Namespace``, which facebookresearch/mae stores as ``ckpt["args"]``; it
carries plain values only. A file that this refuses (a raw mmengine training checkpoint holds
``message_hub`` objects, numpy arrays, ...) is read again with :mod:`colormae.convert.safe_pickle`, which
turns objects of unknown classes into inert data and refuses any pickle that would call something not
allow-listed. A folder is a Hugging Face ``save_pretrained`` folder (``config.json`` plus
``model.safetensors`` or ``pytorch_model.bin``).
"""

from __future__ import annotations

import argparse
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import Tensor

from colormae.errors import UserError

HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: Wrapper keys under which projects store the state dict, tried in this order.
WRAPPER_KEYS = ("state_dict", "model", "module", "model_state", "teacher")


class ConversionError(UserError):
    """A checkpoint whose layout or shapes do not match what the conversion expects."""


@dataclass
class Source:
    """A loaded checkpoint: its flat state dict, the wrapper key it was found under, and side data.

    Attributes:
        state_dict: ``name -> Tensor``.
        wrapper: ``"state_dict"`` / ``"model"`` / ... or ``""`` when the file is the state dict itself.
        raw: the whole loaded object (for ``format``, ``model_config``, ``kind`` of colormae checkpoints).
        hf_config: the parsed ``config.json`` of a Hugging Face folder, else ``None``.
        notes: what the user should know about how it was read.
    """

    path: Path
    state_dict: dict[str, Tensor]
    wrapper: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    hf_config: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:200]


def _torch_load(path: Path, notes: list[str] | None = None) -> Any:
    with path.open("rb") as fh:
        head = fh.read(4)
    # torch.save writes a zip archive (PK..) or, in its legacy format, a pickle (protocol byte 0x80)
    if not (head.startswith(b"PK") or head[:1] == b"\x80"):
        raise ConversionError(f"{path}: not a PyTorch checkpoint, a .safetensors file or a HF folder")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # objects beyond weights_only's allow-list: read them as data
        refused = _first_line(err)
    except Exception as err:  # noqa: BLE001 - any unreadable file is a user-facing error
        if isinstance(err, EOFError) or "zip archive" in str(err) or "central directory" in str(err):
            raise ConversionError(f"{path}: truncated or corrupt ({_first_line(err)}); copy it again or use "
                                  "another checkpoint") from err
        raise ConversionError(f"{path}: cannot be read safely with torch.load(weights_only=True) "
                              f"({_first_line(err)})") from err
    return _restricted_load(path, refused, notes)


def _restricted_load(path: Path, refused: str, notes: list[str] | None) -> Any:
    """The checkpoint read with :mod:`safe_pickle` (unknown objects become inert data; calls are refused)."""
    from colormae.convert import safe_pickle

    try:
        obj, opaque = safe_pickle.torch_load(path)
    except safe_pickle.UnsafePickleError as err:
        raise ConversionError(f"{path}: refused, unsafe to read: {_first_line(err)}") from err
    except Exception as err:  # noqa: BLE001
        raise ConversionError(f"{path}: cannot be read safely ({_first_line(err)}; torch.load(weights_only="
                              f"True) said: {refused})") from err
    if notes is not None and opaque:
        notes.append(f"read with a restricted unpickler: objects of {len(opaque)} unknown class(es) kept as "
                     f"inert data, never imported or called ({', '.join(opaque[:4])}"
                     f"{', ...' if len(opaque) > 4 else ''})")
    return obj


def read_weights(path: str | Path, notes: list[str] | None = None) -> Any:
    """The object stored in a ``.safetensors`` / ``.pt`` / ``.pth`` / ``.bin`` file (safe loaders only).

    ``notes`` (when given) receives what the user should know about how the file was read.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except Exception as err:  # noqa: BLE001
            raise ConversionError(f"{path}: not a readable safetensors file ({err})") from err
    return _torch_load(path, notes)


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, Tensor) for v in obj.values())


def unwrap(obj: Any, path: Path) -> tuple[dict[str, Tensor], str]:
    """The state dict inside a loaded checkpoint and the wrapper key it was under (``""`` if none).

    Non-tensor entries (``num_batches_tracked`` aside, they do not occur in ViTs) are ignored, and a
    DDP ``module.`` prefix on every key is removed.
    """
    if not isinstance(obj, dict):
        raise ConversionError(f"{path}: expected a dict of tensors or a wrapper dict, "
                              f"got {type(obj).__name__}")
    wrapper = ""
    sd: Any = obj
    if not _is_state_dict(obj):
        for key in WRAPPER_KEYS:
            if isinstance(obj.get(key), dict) and obj[key]:
                wrapper, sd = key, obj[key]
                break
        else:
            raise ConversionError(f"{path}: no state dict found (top-level keys: {', '.join(list(obj)[:8])})")
    sd = {k: v for k, v in sd.items() if isinstance(v, Tensor)}
    if not sd:
        raise ConversionError(f"{path}: the {wrapper or 'top-level'} dict holds no tensors")
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd, wrapper


def read_source(path: str | Path) -> Source:
    """Load a checkpoint file or a Hugging Face folder into a :class:`Source`."""
    path = Path(path)
    if path.is_dir():
        cfg_file = path / "config.json"
        weights = next((path / f for f in HF_WEIGHT_FILES if (path / f).exists()), None)
        if not cfg_file.exists() or weights is None:
            raise UserError(f"{path}: a folder must be a Hugging Face save_pretrained folder "
                            f"(config.json and {' or '.join(HF_WEIGHT_FILES)})")
        notes: list[str] = []
        sd, wrapper = unwrap(read_weights(weights, notes), weights)
        return Source(path, sd, wrapper, {}, json.loads(cfg_file.read_text()), notes)
    notes = []
    obj = read_weights(path, notes)
    sd, wrapper = unwrap(obj, path)
    return Source(path, sd, wrapper, obj if isinstance(obj, dict) else {}, None, notes)
