"""Run the ``colormae`` CLI with a real small or read-only file system at a folder.

``unshare -rm`` gives the child a private mount namespace (as an unprivileged user too, where user
namespaces are enabled), so a test can mount a tmpfs of a few MB (disk full) or remount it read-only
(EROFS, which holds even for root, unlike ``chmod 0555``). Not a test module.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def _can_mount() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


CAN_MOUNT = _can_mount()


def run_cli(args: list[str], mount: Path, *, size_kb: int = 4096, read_only: bool = False,
            timeout: float = 300, bind: bool = False, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess:
    """``python -m colormae ARGS`` with a fresh tmpfs of ``size_kb`` at ``mount`` (read-only if asked), or
    with ``bind``: the existing folder ``mount`` read-only (its files kept).

    Without mount namespaces: a read-only folder by ``chmod 0555`` for a non-root user, else skip.
    """
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", **(env or {})}
    cli = [sys.executable, "-m", "colormae", *args]
    mount.mkdir(parents=True, exist_ok=True)
    if not CAN_MOUNT:
        if not (read_only or bind) or os.geteuid() == 0:
            pytest.skip("needs mount namespaces (unshare -rm) for a small or read-only file system")
        folders = [mount, *(p for p in mount.rglob("*") if p.is_dir())] if bind else [mount]
        for folder in folders:
            folder.chmod(0o555)
        try:
            return subprocess.run(cli, capture_output=True, text=True, env=env, timeout=timeout)
        finally:
            for folder in folders:
                folder.chmod(0o755)
    where = shlex.quote(str(mount))
    script = f"mount -t tmpfs -o size={size_kb}k tmpfs {where}"
    if bind:
        script = f"mount --bind {where} {where} && mount -o remount,bind,ro {where}"
    elif read_only:
        script += f" && mount -o remount,ro {where}"
    script += " && exec " + shlex.join(cli)
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=env,
                          timeout=timeout)


def assert_one_error_line(result: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 2, no traceback, one ``error:`` line containing every needle; returns that line."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
