"""[CLS] attention through hooks on timm's fused attention, and EigenCAM maps."""

import copy
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from colormae.models import create_mae
from colormae.viz.attention import attention_figure, attention_probs, cls_attention_maps, last_layer_attention
from colormae.viz.cam import cam_figure, eigen_cam
from colormae.viz.style import denormalize, grid_pixels, heat_overlay, pyplot


@pytest.fixture
def mae():
    torch.manual_seed(0)
    return create_mae("mae_vit_micro_32px").eval()


def test_attention_rows_sum_to_one(mae, gen):
    images = torch.randn(2, 3, 32, 32, generator=gen)
    probs = last_layer_attention(mae, images)
    n = 1 + mae.num_patches
    assert probs.shape == (2, mae.config.num_heads, n, n)
    assert torch.allclose(probs.sum(-1), torch.ones(2, mae.config.num_heads, n), atol=1e-5)
    assert mae.encoder.blocks[-1].attn.fused_attn  # the model itself stays on the fused path


def test_attention_equals_timm_non_fused_path(mae, gen):
    images = torch.randn(2, 3, 32, 32, generator=gen)
    ours = last_layer_attention(mae, images)
    # Reference: timm's own softmax on a non-fused copy, read at the input of its attn_drop.
    ref_model = copy.deepcopy(mae)
    attn = ref_model.encoder.blocks[-1].attn
    attn.fused_attn = False
    seen = []
    attn.attn_drop.register_forward_hook(lambda m, a, out: seen.append(out))
    with torch.no_grad():
        ref_model.forward_features(images)
    assert torch.allclose(ours, seen[0], atol=1e-6)


def test_attention_probs_with_qk_norm(gen):
    from timm.models.vision_transformer import Attention

    attn = Attention(16, num_heads=2, qk_norm=True, norm_layer=torch.nn.LayerNorm).eval()
    x = torch.randn(1, 5, 16, generator=gen)
    attn.fused_attn = False
    seen = []
    attn.attn_drop.register_forward_hook(lambda m, a, out: seen.append(out))
    attn(x)
    assert torch.allclose(attention_probs(attn, x), seen[0], atol=1e-6)


def test_cls_maps_shape_and_mass(mae, gen):
    images = torch.randn(3, 3, 32, 32, generator=gen)
    maps = cls_attention_maps(mae, images)
    assert maps.shape == (3, *mae.grid)
    # [CLS] attends to itself too, so its mass on the patches is in (0, 1]
    assert ((maps.sum((1, 2)) > 0) & (maps.sum((1, 2)) <= 1 + 1e-5)).all()


def _drawn_grid(draw):
    """Run ``draw()`` keeping its figure open: ``(saved path, [[panel array, ...] per row], row labels)``."""
    plt = pyplot()
    with mock.patch.object(plt, "close"):
        out = draw()
    fig = plt.gcf()
    rows: dict[int, list] = {}
    labels = []
    for ax in fig.axes:  # image_grid's axes, row by row
        row = ax.get_subplotspec().rowspan.start
        rows.setdefault(row, []).append(np.asarray(ax.images[0].get_array()))
        if ax.get_subplotspec().colspan.start == 0:
            labels.append(ax.get_ylabel())
    plt.close(fig)
    return out, [rows[r] for r in sorted(rows)], labels


def test_attention_and_cam_figures_draw_the_maps(mae, gen, tmp_path):
    torch.manual_seed(1)
    other = create_mae("mae_vit_micro_32px").eval()
    images = torch.randn(3, 3, 32, 32, generator=gen)
    pics = denormalize(images)
    models = {"a": mae, "b": other}
    out, rows, labels = _drawn_grid(lambda: attention_figure(models, images, tmp_path / "a.png"))
    assert Image.open(out).size == grid_pixels(3, 3) and np.asarray(Image.open(out)).std() > 20
    assert labels == ["image", "a", "b"] and [len(r) for r in rows] == [3, 3, 3]
    for i in range(3):
        np.testing.assert_allclose(rows[0][i], pics[i])
    for row, model in zip(rows[1:], (mae, other), strict=True):
        maps = F.interpolate(cls_attention_maps(model, images)[:, None], size=(32, 32), mode="bilinear")[:, 0]
        for i in range(3):
            np.testing.assert_array_equal(row[i], heat_overlay(pics[i], maps[i].numpy()))
    assert not np.array_equal(rows[1][0], rows[2][0])  # different models, different overlays
    assert not np.array_equal(rows[1][0], rows[1][1])  # different images, different overlays

    out, rows, labels = _drawn_grid(lambda: cam_figure(mae, images, tmp_path / "cam.png"))
    assert Image.open(out).size == grid_pixels(2, 3) and labels == ["image", "EigenCAM"]
    cams = eigen_cam(mae, images)
    for i in range(3):
        np.testing.assert_allclose(rows[0][i], pics[i])
        np.testing.assert_array_equal(rows[1][i], heat_overlay(pics[i], cams[i]))
        assert rows[1][i].std() > 5  # a map, not a flat tint


def test_eigen_cam_maps_normalised(mae, gen):
    images = torch.randn(2, 3, 32, 32, generator=gen)
    maps = eigen_cam(mae, images)
    assert maps.shape == (2, 32, 32)
    assert maps.min() >= 0 and maps.max() <= 1 + 1e-6 and maps.max() > 0.5
    assert mae.training is False


def test_finetuned_classifier_attention_and_cam(mae, gen):
    from colormae.models.classifier import classifier_from_mae

    clf = classifier_from_mae(mae, num_classes=5).eval()
    images = torch.randn(2, 3, 32, 32, generator=gen)
    # the classifier's blocks are the encoder's: same last-layer attention
    assert torch.allclose(last_layer_attention(clf, images), last_layer_attention(mae, images), atol=1e-6)
    maps = eigen_cam(clf, images)
    assert maps.shape == (2, 32, 32) and maps.max() > 0.5


def test_overlays_take_multiband_images_with_the_checkpoints_statistics(tmp_path, capsys):
    """`viz attention` / `viz cam` on a 4-band model: images read as 4-band .npy, normalised with the
    checkpoint's statistics, shown through --bands; the overlay rows differ from the image row."""
    import numpy as np
    import torch
    from PIL import Image

    from colormae.cli import main
    from colormae.convert import export_colormae
    from colormae.models import create_mae

    torch.manual_seed(0)
    stats = {"mean": [0.5] * 4, "std": [0.25] * 4, "normalize": "dataset", "norm_pix_loss": True}
    ckpt = export_colormae(create_mae("mae_vit_micro_32px", in_chans=4), tmp_path / "m.pt", data=stats)
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        np.save(folder / f"{i}.npy", rng.random((4, 32, 32), dtype=np.float32))
    for what in ("attention", "cam"):
        out = tmp_path / f"{what}.png"
        assert main(["viz", what, str(ckpt), str(folder), "--bands", "3,2,1", "-o", str(out)]) == 0
        pixels = np.asarray(Image.open(out).convert("RGB"), dtype=float)
        assert pixels.std() > 5  # drawn, not blank
    assert main(["viz", "attention", str(ckpt), str(folder), "--bands", "5,2,1", "-o",
                 str(tmp_path / "x.png")]) == 2
    assert "band 5 does not exist" in capsys.readouterr().err
