"""``colormae.ranks``: who prints (the group's rank, else torchrun's ``RANK``), who shares the work (only an
initialised group), and the all-reduce that is the identity without a group."""

import pytest
import torch
import torch.distributed as dist

from colormae import ranks


def test_without_a_group_rank_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert ranks.rank() == 3
    assert ranks.rank_world() == (0, 1)  # no group: nothing is split, nothing reduced
    t = torch.tensor([1, 2])
    assert ranks.all_reduce(t) is t
    monkeypatch.setenv("RANK", "x")
    assert ranks.rank() == 0  # printing never fails on a bad variable ...
    with pytest.raises(ValueError):
        ranks.env_ranks()  # ... reading them for a job does (train.distributed makes it a UserError)
    monkeypatch.delenv("RANK")
    monkeypatch.setenv("LOCAL_RANK", "")
    assert ranks.env_ranks() == (0, 0, 4)


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed missing")
def test_an_initialised_group_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "5")  # the group wins over the environment
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        assert ranks.rank() == 0 and ranks.rank_world() == (0, 1)
        assert torch.equal(ranks.all_reduce(torch.tensor([1, 7])), torch.tensor([1, 7]))
        assert torch.equal(ranks.all_reduce(torch.tensor([4.0]), "max"), torch.tensor([4.0]))
    finally:
        dist.destroy_process_group()
