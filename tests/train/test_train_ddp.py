"""Two processes, gloo, CPU: DDP pretraining whose ranks end with identical weights but distinct masks."""

from __future__ import annotations

import os

import pytest
import torch
import torch.multiprocessing as mp


def _rank_main(rank: int, world: int, port: int, out: str) -> None:
    """One torchrun-like process: env vars, then the real pretraining job."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    from colormae.jobs.pretrain import PretrainConfig
    from colormae.models import MaskedAutoencoder
    from colormae.pretrain.run import pretrain

    masks, forward = [], MaskedAutoencoder.forward

    def recording_forward(self, images, mask, *args, **kwargs):  # the masks this rank trains with
        masks.append(mask.detach().cpu().clone())
        return forward(self, images, mask, *args, **kwargs)

    MaskedAutoencoder.forward = recording_forward
    result = pretrain(PretrainConfig(
        out=out, model="mae_vit_micro_32px", data="mnist5k", num_workers=0, masking="green", bank_size=16,
        pattern_size=16, epochs=1, max_steps=3, batch_size=4, warmup_epochs=0, lr=1e-3, amp="none",
        ckpt_every=0, log_every=1, device="cpu", progress=False))
    torch.save(result.model.state_dict(), os.path.join(out, f"rank{rank}.pt"))
    torch.save(torch.stack(masks), os.path.join(out, f"masks{rank}.pt"))


def test_two_process_gloo_ranks_agree(tmp_path, free_port):
    mp.start_processes(_rank_main, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True,
                       start_method="spawn")
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ckpt = torch.load(next((tmp_path / "checkpoints").glob("step-*.pt")), weights_only=True)
    assert ckpt["step"] == 3
    from colormae.models import create_mae

    torch.manual_seed(0)  # pretrain() seeds the initial weights with seed=0
    fresh = create_mae("mae_vit_micro_32px")
    assert not torch.equal(fresh.state_dict()["encoder.patch_embed.proj.weight"],
                           a["encoder.patch_embed.proj.weight"])  # it did train
    # the masks each rank trained with: 3 steps x batch 4 x 8x8 patches, exactly 75 % masked, and the two
    # ranks mask differently at every step
    masks = [torch.load(tmp_path / f"masks{r}.pt", weights_only=True) for r in range(2)]
    assert masks[0].shape == masks[1].shape == (3, 4, 64) and masks[0].dtype == torch.bool
    assert all(int(m.sum(-1).min()) == int(m.sum(-1).max()) == 48 for m in masks)
    for step in range(3):
        assert not torch.equal(masks[0][step], masks[1][step]), step
    distinct = {row.numpy().tobytes() for m in masks for row in m.flatten(0, 1)}
    assert len(distinct) >= 20  # of 24: not a few masks repeated
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3  # rank 0 only logs


pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed missing")
