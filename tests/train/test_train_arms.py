"""Arms side by side: each call in a fresh interpreter with its threads, results back, one error line for a
failed arm, Ctrl-C in an arm stops the caller too."""

import functools
import operator
import signal

import pytest
import torch

from colormae.errors import UserError
from colormae.train import arms


@pytest.mark.parametrize(("device", "cores", "cuda", "expected"), [
    ("cpu", 2, False, 1), ("cpu", 8, True, 4), (None, 2, False, 1), (None, 2, True, 0), ("cuda", 8, True, 0),
    ("cpu", 1, False, 0)])
def test_arms_side_by_side_only_on_a_cpu_with_two_cores(monkeypatch, device, cores, cuda, expected) -> None:
    from colormae.train import threads

    monkeypatch.setattr(threads, "available_cores", lambda: cores)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert arms.arm_threads(device) == expected


def test_calls_run_in_their_own_interpreters_with_their_threads() -> None:
    results = arms.run_arms({"a": functools.partial(operator.add, 1, 2), "b": torch.get_num_threads}, 1)
    assert results == {"a": 3, "b": 1}


def test_a_failed_arm_is_one_line_naming_it() -> None:
    calls = {"good": functools.partial(operator.add, 1, 2), "bad": functools.partial(operator.truediv, 1, 0)}
    with pytest.raises(UserError, match=r"^the bad \(exit code 1\) pretraining failed \(its messages are "
                                        r"above\); rerun it$"):
        arms.run_arms(calls, 1, what="pretraining", again="rerun it")


def test_ctrl_c_in_an_arm_stops_the_caller() -> None:
    with pytest.raises(KeyboardInterrupt):
        arms.run_arms({"a": functools.partial(signal.raise_signal, signal.SIGINT)}, 1)
