"""Progress: tqdm on a terminal, a few plain lines in a log file, nothing off rank 0."""

from __future__ import annotations

import io

import pytest

from colormae import progress as prog


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(stream, n=1000, **kwargs):
    bar = prog.progress(total=n, desc="train", unit="step", file=stream, **kwargs)
    for i in range(n):
        bar.update(1)
        if i == n // 2:
            bar.set_postfix(loss="0.5")
    bar.close()
    return stream.getvalue()


def test_log_file_gets_a_line_per_tenth_and_no_carriage_returns():
    text = _run(io.StringIO())
    lines = text.splitlines()
    assert "\r" not in text and text.endswith("\n")
    assert len(lines) == 11  # 0 %, 10 %, ..., 100 %
    assert lines[0].startswith("train:   0% 0/1000") and lines[-1].startswith("train: 100% 1000/1000")
    assert "loss=0.5" in lines[-1]


def test_log_file_gets_a_line_every_interval(monkeypatch):
    clock = {"t": 0.0}
    monkeypatch.setattr(prog, "_now", lambda: clock["t"])
    stream = io.StringIO()
    bar = prog.progress(total=10**6, desc="slow", file=stream)
    for _ in range(5):  # five minutes for 5 steps of a million: no 10 % mark, one line per 30 s
        clock["t"] += 60.0
        bar.update(1)
    bar.close()
    assert len(stream.getvalue().splitlines()) == 1 + 5 + 0  # start, one per interval; close adds none


def test_terminal_gets_tqdm_frames():
    assert "\r" in _run(_Terminal(), n=50)


@pytest.mark.parametrize(("rank", "enabled"), [("1", True), ("0", False)])
def test_disabled_off_rank_0_or_on_request(monkeypatch, rank, enabled):
    monkeypatch.setenv("RANK", rank)
    assert _run(io.StringIO(), enabled=enabled) == ""


def test_iterable_and_write_between_lines(capsys):
    stream = io.StringIO()
    seen = []
    for x in prog.progress(range(20), desc="items", file=stream):
        seen.append(x)
        if x == 10:
            prog.write("a message")
    assert seen == list(range(20))
    text = stream.getvalue()
    assert "\r" not in text and text.splitlines()[-1].startswith("items: 100% 20/20")
    assert capsys.readouterr().out == "a message\n"
