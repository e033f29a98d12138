"""``colormae sweep``: the settings of the supplement's ablations (Table 1, Fig. 1) as one command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from colormae.config import setting
from colormae.jobs.common import DATA_HELP, Runtime

#: Sweep groups, in table order (ratio: Table 1a, patterns: 1b, noise: 1c, color: the main comparison,
#: transfer: random init vs MAE vs ColorMAE-G, the evidence of docs/results.md).
GROUPS = ("ratio", "patterns", "noise", "color", "transfer")
#: The groups of the supplement's Table 1 and the colour comparison (the default).
TABLE1_GROUPS = GROUPS[:4]

EXAMPLES = """\
examples:
  colormae sweep --out runs/sweep --budget 200                       # every arm, mnist5k, ViT-Tiny 32 px
  colormae sweep --out runs/colors --budget 600 arms=[color] --finetune
  colormae sweep --out runs/colors --budget 600 arms=[color] --seeds 3   # mean +- std over 3 seeds
  colormae sweep --out runs/natural --data natural arms=[transfer] --budget 2400 --seeds 3 --finetune
  colormae sweep --out runs/grid --seeds 3 grid.masking=[random,green] grid.sigma1=[0.25,0.5,1.0]
  colormae sweep --out runs/mine --config arms.yaml       # arms: [{masking: random}, {masking: pink}, ...]

Rerunning the same command resumes: finished arms are skipped, an interrupted one continues from its
checkpoint (pretraining and fine-tuning). Outputs: results.csv (per seed), comparisons.csv (paired
differences to the reference arm, 95 % paired-t intervals), table.md, fig1.png, comparisons.png.
"""


@dataclass
class SweepConfig(Runtime):
    """Pretrain one small MAE per ablation arm for --budget steps, linear-probe it (and fine-tune it with
    --finetune), and write OUT/results.csv, OUT/table.md (laid out as the supplement's Table 1) and
    OUT/fig1.png (Top-1 vs masking ratio and vs number of patterns, marker area = peak memory).

    Arms: ratio = ColorMAE-G at 20/50/75/85/90 %; patterns = 64/512/3072/4096 green patterns; noise =
    random masking from uniform vs white noise; color = random/blue/green/purple/red; transfer = random
    init vs MAE (random masks) vs ColorMAE-G under linear probe, k-NN and (--finetune) fine-tuning; or
    any grid / list of pretraining settings (grid.KEY=[...], arms=[{...}, ...]). Identical arms run once.
    Nothing is tuned per arm: every arm uses the same settings. Every table gives, beside mean +- std,
    each arm's paired-by-seed difference to the reference arm with a 95 % paired-t interval.
    """

    out: str = setting("", "output folder (reuse it to resume)", role="io", required=True, metavar="DIR")
    budget: int = setting(200, "pretraining optimizer steps per arm", min=1)
    arms: list[str | dict[str, Any]] | None = setting(
        None, f"arms to run: named groups ({', '.join(GROUPS)}) and / or arms as dicts of pretraining "
              "settings (YAML list, e.g. [{masking: random}, {masking: green, sigma1: 0.25}]; label: names a "
              "row); default: the Table 1 groups ratio, patterns, noise, color unless a grid is given")
    grid: dict[str, Any] = setting(
        {}, "a grid of pretraining settings, every combination an arm: grid.KEY=[v1,v2,...] (KEY: masking, "
            "mask_ratio, bank_size, lr, ... or a noise-filter parameter: sigma1, sigma2, beta, f0, width)")
    reference: str = setting("random", "the arm every other arm is compared with, paired by seed (its "
                                       "masking or its row label)")
    data: str = setting("mnist5k", DATA_HELP)
    model: str = setting("mae_vit_tiny_32px", "MAE preset (a small one: every arm trains from scratch)")
    batch_size: int = setting(64, "pretraining batch", min=1)
    lr: float | None = setting(1.5e-3, "peak pretraining lr, the same for every arm (the CPU demo's; none: "
                                       "the paper's base_lr scaling, far too low for a tiny model's short "
                                       "run)", min=0.0)
    pattern_size: int = setting(64, "side of the generated pattern banks (paper: 256; a 32 px model's 8x8 "
                                    "window needs far less)", min=1)
    probe_epochs: int = setting(20, "linear-probe epochs", min=1)
    probe_samples: int | None = setting(None, "cap on linear-probe train / val images (evenly spaced)", min=1)
    finetune: bool = setting(False, "also fine-tune every arm end to end")
    finetune_epochs: int = setting(5, "fine-tune epochs", min=1)
    seed: int = setting(0, "seed of the first repetition of every arm", min=0)
    seeds: int = setting(1, "repetitions of every arm with seeds seed, seed+1, ...: the table gives mean +- "
                            "std and the figure error bars", min=1)
    isolate: bool | None = setting(None, "pretrain each arm in a child process (default: on CPU, so each "
                                         "arm's peak memory is its own)", role="io")
    verbose: bool = setting(False, "show each arm's pretraining and probing progress too", role="io")
