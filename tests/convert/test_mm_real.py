"""``--to mmseg`` / ``--to mmdet-vitdet`` loaded by the real projects, through both of their routes (skipped
unless mmseg is installed, resp. mmdet with an mmdetection checkout on ``sys.path`` for its
``projects/ViTDet``: ``tools/check_mm_exports.sh [VENV] [MMDET_CHECKOUT]`` sets up such an environment).

The mmseg backbone is built from mmseg's packaged
``configs/mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py``, whose ``model.backbone`` is the official
ColorMAE segmentation config's (``type='MAE'``, 512 px, ``init_values=1.0``, ``out_indices=[3, 5, 7, 11]``,
LN eps 1e-6); its block 3/5/7/11 maps must match our segmentation backbone's on the same weights. The mmdet
ViT is built as the official ``vitdet_mask-rcnn_vit-b-mae_lsj-100e.py`` builds it (LN eps 1e-6: the MAE's;
that config leaves LN at torch's 1e-5) and must match our detection backbone built for the input size.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import torch

from colormae.dense.backbone import backbone_from_mae
from colormae.export import convert
from colormae.models import create_mae

CONFIG = "mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py"
OUT_INDICES = (3, 5, 7, 11)


def _no_compiled_ops() -> None:
    """mmcv-lite has no compiled ops, yet ``mmseg.models`` imports a few names from ``mmcv.ops`` (point
    sampling, focal loss) that neither the MAE backbone nor UperNet call: give it a module whose names
    raise when called."""
    def missing(name: str):
        if name.startswith("__"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            raise RuntimeError(f"mmcv.ops.{name} needs mmcv's compiled ops")
        return call

    ops = types.ModuleType("mmcv.ops")
    ops.__getattr__ = missing  # type: ignore[attr-defined]
    ops.__path__ = []  # type: ignore[attr-defined]
    sys.modules["mmcv.ops"] = ops


@pytest.fixture(scope="module")
def mmseg_models():
    pytest.importorskip("mmseg")
    pytest.importorskip("mmengine")
    try:
        import mmcv.ops  # noqa: F401
    except ImportError:
        _no_compiled_ops()
    import mmseg.models  # noqa: F401  (registers MAE, EncoderDecoder)
    from mmseg.utils import register_all_modules

    register_all_modules()
    return sys.modules["mmseg.models"]


def _official_model(pretrained: str | None):
    import mmseg
    from mmengine.config import Config
    from mmseg.registry import MODELS

    cfg = Config.fromfile(str(Path(mmseg.__file__).parent / ".mim" / "configs" / CONFIG))
    cfg.model.pretrained = pretrained
    cfg.model.backbone.drop_path_rate = 0.0  # eval mode ignores it; keeps the build cheap
    for head in ("decode_head", "auxiliary_head"):
        cfg.model[head].norm_cfg = dict(type="BN", requires_grad=True)  # SyncBN needs a process group
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory, mmseg_models):
    torch.manual_seed(0)
    mae = create_mae("mae_vit_base_patch16").eval()
    with torch.no_grad():  # every bias and norm non-trivial, so a dropped key bias would show
        for p in mae.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    src = tmp_path_factory.mktemp("mm") / "src.pt"
    from colormae.convert import export_colormae

    export_colormae(mae, src)
    dst = src.with_name("vitb_mmseg.pth")
    convert(src, dst, to="mmseg")
    ours = backbone_from_mae(mae, (512, 512), OUT_INDICES, drop_path=0.0).eval()
    return dst, ours


def _compare(model, ours, file: Path) -> None:
    sd = torch.load(file, weights_only=True)["state_dict"]
    theirs = model.backbone.state_dict()
    bare = {k: v for k, v in sd.items() if not k.startswith("backbone.")}
    loaded = [k for k in bare if k in theirs and theirs[k].shape == bare[k].shape and torch.equal(
        theirs[k], bare[k])]
    assert len(loaded) == len(bare) - 1  # all but pos_embed, which mmseg resizes (14x14 -> 32x32)
    torch.manual_seed(1)
    x = torch.randn(1, 3, 512, 512)
    with torch.no_grad():
        got = model.backbone(x)
        want = ours(x)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-4)


def test_official_route_init_cfg(exported):
    dst, ours = exported
    _compare(_official_model(str(dst)), ours, dst)


def test_load_from_route(exported):
    from mmengine.runner.checkpoint import load_checkpoint

    dst, ours = exported
    model = _official_model(None)
    load_checkpoint(model, str(dst), map_location="cpu")
    _compare(model, ours, dst)


@pytest.fixture(scope="module")
def mmdet_vit():
    pytest.importorskip("mmdet")
    try:
        import mmcv.ops  # noqa: F401
    except ImportError:
        _no_compiled_ops()
    vit = pytest.importorskip("projects.ViTDet.vitdet.vit", reason="needs an mmdetection checkout")
    return vit.ViT


@pytest.mark.parametrize("route", ["init_cfg", "load_from"])
def test_mmdet_vitdet_routes(tmp_path, mmdet_vit, route):
    from mmengine.config import ConfigDict
    from mmengine.runner.checkpoint import load_checkpoint

    from colormae.convert import export_colormae
    from colormae.dense.detect.backbone import build_vit, load_encoder

    torch.manual_seed(0)
    mae = create_mae("mae_vit_base_patch16").eval()
    with torch.no_grad():
        for p in mae.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    dst = tmp_path / "vitb_vitdet.pth"
    convert(export_colormae(mae, tmp_path / "src.pt"), dst, to="mmdet-vitdet")
    init_cfg = ConfigDict(type="Pretrained", checkpoint=str(dst)) if route == "init_cfg" else None
    detector = torch.nn.Module()
    detector.backbone = mmdet_vit(img_size=1024, patch_size=16, embed_dim=768, depth=12, num_heads=12,
                                  window_size=14, mlp_ratio=4, qkv_bias=True,
                                  norm_cfg=dict(type="LN", eps=1e-6), use_rel_pos=True,
                                  window_block_indexes=[0, 1, 3, 4, 6, 7, 9, 10], init_cfg=init_cfg)
    if route == "init_cfg":
        detector.backbone.init_weights()
    else:
        load_checkpoint(detector, str(dst), map_location="cpu")
    vit = detector.backbone.eval()
    written = torch.load(dst, weights_only=True)["model"]
    theirs = vit.state_dict()
    assert len(written) == len(theirs) and all(torch.equal(theirs[k], v) for k, v in written.items())
    ours = build_vit(mae.config, img_size=448, window_size=14)
    load_encoder(ours, mae.encoder.state_dict())
    x = torch.randn(1, 3, 448, 448)
    with torch.no_grad():
        torch.testing.assert_close(vit(x), ours.eval().forward_features(x), rtol=0, atol=1e-4)
