"""The published weight files of facebookresearch/mae and the official ColorMAE, and their checksums.

``colormae inspect`` names a file it finds here (:func:`find_release` by SHA-256, :func:`find_release_md5`
by the md5 prefix facebookresearch/mae prints); the docs' model-zoo page is generated from :data:`RELEASES`.

Only checksums a release itself publishes are written down, each with where it was read:

- facebookresearch/mae publishes the first 6 hex digits of each file's **md5** (README.md "Fine-tuning
  with pre-trained checkpoints" and FINETUNE.md "Evaluation" tables, github.com/facebookresearch/mae at
  commit efb2a80); no SHA-256. The ``*_full.pth`` files (encoder + decoder, named by Kaiming He in
  facebookresearch/mae issue #8, "these models reconstruct normalized pixels") and the ``mae_visualize_*``
  files (demo/mae_visualize.ipynb; issue #3) have no published checksum.
- The Hugging Face port ``facebook/vit-mae-base`` (a ``save_pretrained`` folder): its ``model.safetensors``
  SHA-256 is the one the Hub shows for the Git LFS object
  (huggingface.co/facebook/vit-mae-base/blob/main/model.safetensors, 448 MB).
- The official ColorMAE (github.com/carlosh93/ColorMAE README, commit f0ad557) publishes its checkpoints
  on OSF (osf.io/r856v) and says their "names and md5 checksums ... will be updated in this spreadsheet
  once available": no model checksum is published there. It does publish md5 prefixes of its four
  colour-noise pattern banks (README "Download Color Noise Patterns").
"""

from __future__ import annotations

from dataclasses import dataclass

_MAE = "https://dl.fbaipublicfiles.com/mae"
_OSF = "https://osf.io"


@dataclass(frozen=True)
class Release:
    """A published file.

    Attributes:
        name: the published file name.
        source: ``"facebookresearch/mae"``, ``"ColorMAE"`` or ``"facebook (Hugging Face)"``.
        url: where it is downloaded.
        size_bytes: exact size when published, else ``None``.
        sha256: the published (or Hub-shown) SHA-256, else ``None``.
        kind: what it holds (``"mae_vit_base full"``, ``"encoder only"``, ...).
        command: the one colormae command that converts or loads it.
        md5: the published md5 (or its published prefix), else ``None``.
    """

    name: str
    source: str
    url: str
    size_bytes: int | None
    sha256: str | None
    kind: str
    command: str
    md5: str | None = None


def _mae(folder: str, name: str, kind: str, command: str, md5: str | None = None) -> Release:
    return Release(name, "facebookresearch/mae", f"{_MAE}/{folder}/{name}", None, None, kind, command, md5)


def _colormae(name: str, osf: str, kind: str, command: str, md5: str | None = None) -> Release:
    return Release(name, "ColorMAE", f"{_OSF}/{osf}", None, None, kind, command, md5)


_CONVERT = "colormae convert {name} -o {stem}.pt"
_TIMM = "colormae convert {name} -o {stem}.pt --from timm"
_MM = "colormae convert {name} -o {stem}.pt --from mmpretrain"
# fine-tuned classifiers (global-pool fc_norm, head): inspected, not converted
_FT = "colormae inspect {name}"


def _cmd(template: str, name: str) -> str:
    return template.format(name=name, stem=name.rsplit(".", 1)[0])


RELEASES: list[Release] = [
    # facebookresearch/mae README.md: pre-trained checkpoints (encoder only), md5 prefixes
    # 8cad7c / b8b06e / 9bdbb0
    *(_mae("pretrain", f"mae_pretrain_vit_{size}.pth", f"mae_vit_{size} encoder only (ImageNet-1k)",
           _cmd(_TIMM, f"mae_pretrain_vit_{size}.pth"), md5)
      for size, md5 in (("base", "8cad7c"), ("large", "b8b06e"), ("huge", "9bdbb0"))),
    # facebookresearch/mae issue #8: encoder + decoder, norm-pix target; no checksum published
    *(_mae("pretrain", f"mae_pretrain_vit_{size}_full.pth", f"mae_vit_{size} full (norm-pix target)",
           _cmd(_CONVERT, f"mae_pretrain_vit_{size}_full.pth")) for size in ("base", "large", "huge")),
    # demo/mae_visualize.ipynb and issue #3: encoder + decoder trained for pixel reconstructions; no checksum
    *(_mae("visualize", f"mae_visualize_vit_{size}.pth", f"mae_vit_{size} full (pixel target, for figures)",
           _cmd(_CONVERT, f"mae_visualize_vit_{size}.pth")) for size in ("base", "large", "huge")),
    _mae("visualize", "mae_visualize_vit_large_ganloss.pth", "mae_vit_large full (pixel + GAN loss, figures)",
         _cmd(_CONVERT, "mae_visualize_vit_large_ganloss.pth")),
    # facebookresearch/mae FINETUNE.md: fine-tuned ImageNet classifiers, md5 prefixes 1b25e9 / 51f550 / 2541f2
    *(_mae("finetune", f"mae_finetuned_vit_{size}.pth", f"vit_{size} fine-tuned classifier (ImageNet-1k)",
           _cmd(_FT, f"mae_finetuned_vit_{size}.pth"), md5)
      for size, md5 in (("base", "1b25e9"), ("large", "51f550"), ("huge", "2541f2"))),
    # huggingface.co/facebook/vit-mae-base/blob/main/model.safetensors: the Hub's Git LFS SHA-256
    Release("model.safetensors", "facebook (Hugging Face)", "https://huggingface.co/facebook/vit-mae-base",
            None, "479dcef4bd5df06259399027b789f21e9d9a1b79f37155a64176d55bc26fdae8",
            "mae_vit_base full, HF ViTMAEForPreTraining folder facebook/vit-mae-base (norm-pix target)",
            "colormae convert vit-mae-base/ -o vit-mae-base.pt"),
    # github.com/carlosh93/ColorMAE README "Pretrained models" (OSF links); file names and checksums not
    # published there, except the 300-epoch file's name in its "Use the pretrained model" example
    _colormae("colormae-green-epoch_300.pth", "9ck2v",
              "ColorMAE-G mae_vit_base full, 300 epochs (mmpretrain)",
              _cmd(_MM, "colormae-green-epoch_300.pth")),
    _colormae("ColorMAE-G 800 epochs (OSF 9vpby; file name not published)", "9vpby",
              "ColorMAE-G mae_vit_base full, 800 epochs (mmpretrain)",
              "colormae convert FILE -o colormae_g_800e.pt"),
    _colormae("ColorMAE-G 1600 epochs (OSF qbwk4; file name not published)", "qbwk4",
              "ColorMAE-G mae_vit_base full, 1600 epochs (mmpretrain)",
              "colormae convert FILE -o colormae_g_1600e.pt"),
    _colormae("vit-base-p16_colormae-green-300e-pre_8xb128-coslr-100e_in1k.pth", "yrwtp",
              "ViT-B fine-tuned classifier from ColorMAE-G 300e (mmpretrain)",
              "colormae inspect vit-base-p16_colormae-green-300e-pre_8xb128-coslr-100e_in1k.pth"),
    # ColorMAE README "Download Color Noise Patterns": md5 prefixes of the pattern banks (the file names are
    # the configs' data_path, e.g. noise_colors/green/green_noise_data_3072.npz)
    *(_colormae(f"{colour}_noise_data_3072.npz", osf, f"{colour} noise pattern bank (3072 patterns)",
                f"colormae pretrain --out runs/x masking={colour} bank={colour}_noise_data_3072.npz", md5)
      for colour, osf, md5 in (("green", "d6k5w", "a76e71"), ("blue", "fpq4n", "ca6445"),
                               ("purple", "fb9md", "590c8f"), ("red", "m862s", "1dbcaa"))),
]


def find_release(sha256: str) -> Release | None:
    """The release whose published SHA-256 is ``sha256`` (hex, any case), else ``None``."""
    digest = sha256.lower()
    return next((r for r in RELEASES if r.sha256 is not None and r.sha256 == digest), None)


def find_release_md5(md5: str) -> Release | None:
    """The release whose published md5 (or published md5 prefix) starts ``md5`` (a full hex digest)."""
    digest = md5.lower()
    return next((r for r in RELEASES if r.md5 and digest.startswith(r.md5.lower())), None)
