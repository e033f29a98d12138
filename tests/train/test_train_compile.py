"""``compile=true`` trains the pretraining step to the losses eager mode gives (CPU, inductor)."""

import json

import pytest
import torch

from colormae.cli import main

TINY = ["model=mae_vit_micro_32px", "data=mnist5k", "num_workers=0", "bank_size=16", "pattern_size=16",
        "batch_size=8", "epochs=1", "warmup_epochs=0", "lr=1e-3", "log_every=1", "max_steps=3"]


def losses(run):
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow  # inductor compiles the forward and backward graphs: about a minute on 2 CPU cores
def test_compiled_pretraining_matches_eager(tmp_path):
    common = ["--no-progress", "--device", "cpu", *TINY]
    assert main(["pretrain", "--out", str(tmp_path / "eager"), *common]) == 0
    assert main(["pretrain", "--out", str(tmp_path / "compiled"), *common, "compile=true"]) == 0
    torch._dynamo.reset()
    eager, compiled = losses(tmp_path / "eager"), losses(tmp_path / "compiled")
    assert len(eager) == len(compiled) == 3 and eager[0] != eager[-1]
    assert all(abs(a - b) < 1e-4 for a, b in zip(eager, compiled, strict=True)), (eager, compiled)
