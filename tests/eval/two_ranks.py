"""Two simulated ranks in one process, for tests of code that shards work and ``all_gather``s it back."""

from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch


def as_two_ranks(monkeypatch: Any, modules: tuple[ModuleType, ...], fn: Callable[[], Any]) -> Any:
    """Run ``fn`` as rank 0 and then rank 1 of two (``rank_world`` patched in ``modules``), recording what
    each passes to ``torch.distributed.all_gather``; then once more as rank 1, where every gather returns
    what the two ranks sent. Returns that last call's result, with the patches undone."""
    sent: dict[int, list[torch.Tensor]] = {0: [], 1: []}
    state = {"rank": 0, "call": 0, "record": True}

    def all_gather(parts: list[torch.Tensor], padded: torch.Tensor) -> None:
        if state["record"]:
            sent[state["rank"]].append(padded.clone())
            parts[:] = [padded.clone() for _ in parts]
        else:
            parts[:] = [sent[r][state["call"]] for r in range(len(parts))]
            state["call"] += 1

    for module in modules:
        monkeypatch.setattr(module, "rank_world", lambda: (state["rank"], 2))
    monkeypatch.setattr(torch.distributed, "all_gather", all_gather)
    for rank in (0, 1):
        state["rank"] = rank
        fn()
    state.update(record=False, rank=1)
    result = fn()
    monkeypatch.undo()
    return result
