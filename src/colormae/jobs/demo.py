"""``colormae demo``: the settings of the demo (what ``make demo`` runs)."""

from __future__ import annotations

from dataclasses import dataclass

from colormae.config import setting


@dataclass
class DemoConfig:
    """Pretrain a small ColorMAE-G (ViT-Tiny, 32 px images, green-noise masks) on the built-in MNIST digits
    in a few minutes on a CPU, probe it against a random-init encoder, and write its figures to --out.
    Running it again in the same folder reuses (or finishes) the earlier pretraining.
    """

    out: str = setting("runs/demo", "output folder", role="io", metavar="DIR")
    quick: bool = setting(False, "a few training steps only (smoke test)", role="io")
    dense: bool = setting(True, "fine-tune segmentation and detection on the built-in digit scenes, "
                                "pretrained vs random init (--no-dense: skip them; the [dense] extra is "
                                "then not needed)", role="io")
    device: str | None = setting(None, "cpu, cuda or auto (default)", role="io")
